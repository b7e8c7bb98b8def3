// How a boot that cannot go on ends: one message on stderr that names the cause, exit code 1. A
// cause a person fixes (a bad variable, a port in use) comes without a stack; anything else with it.
import { createServer } from 'node:net';
import { ConfigError } from '@koodrive/config';

const PREFIX = 'koodrive-upload';

// The port a variable names cannot be listened on.
export class PortUnavailableError extends Error {
  constructor(variable: string, port: number, host: string, code: string) {
    super(
      code === 'EADDRINUSE'
        ? `${variable} ${port} is already in use on ${host} (EADDRINUSE): stop what listens there or set ${variable} to a free port`
        : `${variable} ${port} cannot be listened on at ${host} (${code}): set ${variable} to another port, or HOST to an address of this machine`,
    );
    this.name = 'PortUnavailableError';
  }
}

// A listen error of the port `variable` names, as a PortUnavailableError when the port is the cause.
export function portError(variable: string, port: number, host: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    return new PortUnavailableError(variable, port, host, code);
  }
  return error instanceof Error ? error : new Error(String(error));
}

// Before the boot's slow part (the embedded database, the migrations): a port already taken is said
// at once. The listen itself still names it, should another process take the port meanwhile.
export async function ensurePortFree(variable: string, port: number, host: string): Promise<void> {
  if (port === 0) {
    return;
  }
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error) => reject(portError(variable, port, host, error)));
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

export function exitOnBootFailure(error: unknown): never {
  const said =
    error instanceof ConfigError || error instanceof PortUnavailableError
      ? error.message
      : `boot failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
  process.stderr.write(`${PREFIX}: ${said}\n`);
  process.exit(1);
}
