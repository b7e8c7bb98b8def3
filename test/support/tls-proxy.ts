// A TLS-terminating nginx (Debian's package, installed by services:up) for the tests, configured as
// the production Ingress is (deploy/overlays/production/ingress.yaml: body size, request buffering,
// timeouts) and setting X-Forwarded-For/-Proto/-Host/-Port as ingress-nginx does, with HTTP/2 on
// its TLS side. Its certificate is made here with openssl, signed by a CA of the test's own.
// It connects to its upstreams from 127.0.0.2, so a service can trust it (TRUST_PROXY) and nobody
// else on loopback.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { deadPort } from './dead-port.ts';
import { ROOT } from './promql.ts';

export const PROXY_ADDRESS = '127.0.0.2';

const run = promisify(execFile);

export interface Route {
  // http://host:port the TLS port forwards to
  upstream: string;
  // set ingress-nginx's X-Forwarded-* and Host headers (an API), or pass Host as the client sent it
  // (S3: the presigned signature covers it)
  forwarded: boolean;
  // the TLS port, when it must be known before the proxy starts (default: a free one)
  port?: number;
}

// The production Ingress's nginx annotations.
async function ingressAnnotations(): Promise<Record<string, string>> {
  const ingress = parse(await readFile(path.join(ROOT, 'deploy/overlays/production/ingress.yaml'), 'utf8')) as {
    metadata: { annotations: Record<string, string> };
  };
  const prefix = 'nginx.ingress.kubernetes.io/';
  return Object.fromEntries(
    Object.entries(ingress.metadata.annotations)
      .filter(([name]) => name.startsWith(prefix))
      .map(([name, value]) => [name.slice(prefix.length), value]),
  );
}

export class TlsProxy {
  output = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    // the CA that signed the proxy's certificate (PEM), for clients to trust
    readonly caFile: string,
    readonly ca: Buffer,
    // https://127.0.0.1:port of each route, in the order given
    readonly urls: string[],
  ) {}

  static async start(routes: Route[]): Promise<TlsProxy> {
    const dir = await mkdtemp(path.join(tmpdir(), 'koodrive-tls-'));
    const file = (name: string): string => path.join(dir, name);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await run('openssl', [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=koodrive test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]);
    await run('openssl', [
      'req',
      ...ec,
      '-keyout',
      file('server.key'),
      '-out',
      file('server.csr'),
      '-subj',
      '/CN=127.0.0.1',
    ]);
    await writeFile(
      file('server.ext'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
    );
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file('server.pem'),
      '-days',
      '1',
      '-extfile',
      file('server.ext'),
    ]);

    const annotations = await ingressAnnotations();
    const ports = await Promise.all(routes.map(async (route) => route.port ?? (await deadPort())));
    for (const temp of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
      await mkdir(file(temp));
    }
    const servers = routes.map((route, i) => {
      const headers = route.forwarded
        ? [
            // as ingress-nginx sets them (its template's proxy_set_header lines)
            'proxy_set_header Host $http_host;',
            'proxy_set_header X-Real-IP $remote_addr;',
            'proxy_set_header X-Forwarded-For $remote_addr;',
            'proxy_set_header X-Forwarded-Host $http_host;',
            'proxy_set_header X-Forwarded-Port $server_port;',
            'proxy_set_header X-Forwarded-Proto $scheme;',
            'proxy_set_header X-Scheme $scheme;',
          ]
        : ['proxy_set_header Host $http_host;'];
      return `
  server {
    listen 127.0.0.1:${ports[i]} ssl http2;
    ssl_certificate ${file('server.pem')};
    ssl_certificate_key ${file('server.key')};
    client_max_body_size ${annotations['proxy-body-size']};
    proxy_request_buffering ${annotations['proxy-request-buffering']};
    proxy_read_timeout ${annotations['proxy-read-timeout']}s;
    proxy_send_timeout ${annotations['proxy-send-timeout']}s;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_bind ${PROXY_ADDRESS};
    location / {
      proxy_pass ${route.upstream};
      ${headers.join('\n      ')}
    }
  }`;
    });
    // as root, the workers run as root too: they read nothing but what the master opened
    const user = process.getuid?.() === 0 ? 'user root;' : '';
    await writeFile(
      file('nginx.conf'),
      `${user}
daemon off;
worker_processes 1;
pid ${file('nginx.pid')};
error_log stderr warn;
events { worker_connections 256; }
http {
  log_format routes '$server_port $server_protocol $request_method $uri $status $request_length';
  access_log ${file('access.log')} routes;
  client_body_temp_path ${file('body')};
  proxy_temp_path ${file('proxy')};
  fastcgi_temp_path ${file('fastcgi')};
  uwsgi_temp_path ${file('uwsgi')};
  scgi_temp_path ${file('scgi')};
${servers.join('\n')}
}
`,
    );
    const binary = process.env.PATH?.split(':').includes('/usr/sbin') === true ? 'nginx' : '/usr/sbin/nginx';
    const child = spawn(binary, ['-p', dir, '-e', 'stderr', '-c', file('nginx.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proxy = new TlsProxy(
      child,
      dir,
      file('ca.pem'),
      await readFile(file('ca.pem')),
      ports.map((port) => `https://127.0.0.1:${port}`),
    );
    const collect = (chunk: Buffer): void => {
      proxy.output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (error) =>
        reject(new Error(`nginx is not runnable (npm run services:up installs it): ${error.message}`)),
      );
      child.once('exit', (code, signal) => reject(new Error(`nginx exited (${code ?? signal}):\n${proxy.output}`)));
    });
    failed.catch(() => undefined);
    try {
      for (const port of ports) {
        await Promise.race([proxy.untilListening(port), failed]);
      }
    } catch (error) {
      await proxy.stop();
      throw error;
    }
    return proxy;
  }

  // A TLS handshake on the port succeeds (nginx listens once its configuration is loaded).
  private async untilListening(port: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, ca: this.ca, servername: 'localhost' }, () => {
          socket.end();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (ok) {
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`nginx did not listen on ${port}:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  // The access log: one `port protocol method path status request_length` line per request.
  async accessLog(): Promise<string[]> {
    const text = await readFile(path.join(this.dir, 'access.log'), 'utf8').catch(() => '');
    return text.split('\n').filter((line) => line !== '');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGQUIT');
      await once(this.child, 'exit');
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
