// GET /upload, outside production as /docs is: the browser upload page (apps/web), as
// `npm run build:web` left it in apps/web/dist (npm run build and npm test build it). The files are
// read once at boot and served from memory; a checkout whose page is not built serves none, and
// says so at boot.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AuthModule } from '@koodrive/auth';

export const UPLOAD_PAGE_PATH = '/upload';
const BUILT_PAGE = 'apps/web/dist';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

// The page's own scripts only; hash-wasm compiles its WebAssembly from bytes ('wasm-unsafe-eval');
// parts go to the service or to storage, wherever its URLs point.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self' http: https:",
  "style-src 'self'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

// apps/web/dist above this file (source, .out or dist) or above the working directory.
export function findUploadPage(starts: readonly string[] = [import.meta.dirname, process.cwd()]): string | undefined {
  for (const start of starts) {
    for (let dir = start; ; dir = dirname(dir)) {
      const candidate = join(dir, BUILT_PAGE);
      if (existsSync(join(candidate, 'index.html'))) {
        return candidate;
      }
      if (dirname(dir) === dir) {
        break;
      }
    }
  }
  return undefined;
}

// Serves index.html at /upload and every other built file at /upload/<name>.
function registerUploadPage(fastify: FastifyInstance, dir: string): void {
  const headers = {
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'referrer-policy': 'no-referrer',
  };
  const files = readdirSync(dir).filter((name) => CONTENT_TYPES[extname(name)] !== undefined);
  for (const name of files) {
    const body = readFileSync(join(dir, name));
    const url = name === 'index.html' ? UPLOAD_PAGE_PATH : `${UPLOAD_PAGE_PATH}/${name}`;
    fastify.get(url, (_request, reply) => {
      void reply.headers({ ...headers, 'content-type': CONTENT_TYPES[extname(name)] }).send(body);
    });
  }
}

// Where a person opens the page: a wildcard listening address is reached on loopback.
export function uploadPageAddress(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const hostPart = reachable.includes(':') ? `[${reachable}]` : reachable;
  return `http://${hostPart}:${port}${UPLOAD_PAGE_PATH}`;
}

// The boot's word on the page, when it is served: in embedded mode a plain line (as KOODRIVE_TOKEN's,
// for a shell or a click) with the demo token in the fragment, which browsers never send to a server.
export function announceUploadPage(
  app: NestFastifyApplication,
  address: string,
  log: (message: string) => void,
  write: (line: string) => void = (line) => process.stdout.write(line),
): void {
  if (!app.getHttpAdapter().getInstance().hasRoute({ method: 'GET', url: UPLOAD_PAGE_PATH })) {
    return;
  }
  const { demoToken } = app.get(AuthModule);
  if (demoToken === undefined) {
    log(`upload page: ${address} (paste a KooDrive token in its field, or add #token=<token>)`);
  } else {
    write(`KOODRIVE_UPLOAD_PAGE=${address}#token=${encodeURIComponent(demoToken)}\n`);
  }
}

// Outside production: the page, or a word at boot that it is not built.
export function serveUploadPage(fastify: FastifyInstance, warn: (message: string) => void): void {
  const dir = findUploadPage();
  if (dir === undefined) {
    warn(`the upload page is not built (no ${BUILT_PAGE}): run npm run build:web to serve it at ${UPLOAD_PAGE_PATH}`);
    return;
  }
  registerUploadPage(fastify, dir);
}
