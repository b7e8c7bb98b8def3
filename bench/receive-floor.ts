// node bench/receive-floor.ts (env: PORT, RECEIVE=stream|reused): the floor of a part PUT's
// receiving side, a bare node:http server (no Nest, Fastify, tracing, hashing or storage) that takes
// PUT bodies and drops them:
//   stream  as node hands them on (IncomingMessage 'data': a fresh Buffer per socket read)
//   reused  read off the socket into reused buffers, as the service does (request-body.ts, built)
// The cost bench's per-byte section sends it the same parts it sends the service and reads this
// process's CPU from /proc. GET /readyz answers once it listens.
// Runs with Node's type stripping, no @koodrive imports (as bench/floor.ts): the built file is
// imported by its path.
import { createServer, type IncomingMessage } from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

type RequestBodyModule = typeof import('../apps/upload/src/parts/request-body.ts');

const mode = process.env.RECEIVE ?? 'stream';
const built = path.resolve(import.meta.dirname, '../dist/apps/upload/src/parts/request-body.js');
const { requestBody } = (await import(pathToFileURL(built).href)) as RequestBodyModule;

function drop(request: IncomingMessage): Promise<void> {
  const size = Number(request.headers['content-length']);
  if (mode === 'reused') {
    return requestBody(request, size).flow((_chunk, done) => done());
  }
  return new Promise((resolve, reject) => {
    request.on('data', () => undefined);
    request.once('end', resolve);
    request.once('error', reject);
  });
}

const server = createServer((request, response) => {
  if (request.url === '/readyz') {
    response.end('ok');
    return;
  }
  // the service answers a part PUT so too: the connection is not kept
  response.setHeader('connection', 'close');
  drop(request).then(
    () => response.end('{"code":0}'),
    (error: unknown) => response.writeHead(500).end(String(error)),
  );
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
