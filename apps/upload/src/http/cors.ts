// CORS for web clients, on the origins of CORS_ORIGINS only (exact matches; none by default):
// a browser's preflight (OPTIONS) of the API's endpoints and the part PUT is answered, and
// their answers to such an origin say it may read them, X-Traceid included. Other origins get no
// CORS header, so a browser keeps their pages from calling the service.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

// what a KooDrive web client sends (API.md, "Common request headers"), besides the safelisted ones
export const CORS_ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'X-Traceid', 'language', 'x-hw-share-folder-id'];
// what it may read beyond the safelisted answer headers: the trace id, when to retry, a part's ETag
export const CORS_EXPOSED_HEADERS = ['X-Traceid', 'Retry-After', 'ETag'];
// a browser asks again after this long
const PREFLIGHT_MAX_AGE_SECONDS = 600;

export interface CorsRoute {
  readonly url: string;
  readonly method: 'POST' | 'PUT';
}

// The API's endpoints; the part PUT's route comes from parts/.
export const API_CORS_ROUTES: readonly CorsRoute[] = [
  { url: '/koodrive/ose/v1/files/create', method: 'POST' },
  { url: '/koodrive/ose/v1/files/multipart/uploadUrl', method: 'POST' },
  { url: '/koodrive/ose/v1/files/complete', method: 'POST' },
  { url: '/koodrive/ose/v1/revision/createRevision', method: 'POST' },
  { url: '/koodrive/ose/v1/revision/completeRevision', method: 'POST' },
];

export function registerCors(fastify: FastifyInstance, origins: readonly string[], routes: readonly CorsRoute[]): void {
  const allowed = new Set(origins);
  const byUrl = new Map(routes.map((route) => [route.url, route.method]));
  const allowedOrigin = (request: FastifyRequest): string | undefined => {
    const origin = request.headers.origin;
    return origin !== undefined && allowed.has(origin) ? origin : undefined;
  };
  // the actual request: its answer, errors included, is readable by an allowed origin
  fastify.addHook('onRequest', (request, reply, done) => {
    const url = request.routeOptions.url;
    if (url !== undefined && byUrl.has(url) && request.method !== 'OPTIONS') {
      varyOnOrigin(reply);
      const origin = allowedOrigin(request);
      if (origin !== undefined) {
        void reply
          .header('access-control-allow-origin', origin)
          .header('access-control-expose-headers', CORS_EXPOSED_HEADERS.join(', '));
      }
    }
    done();
  });
  for (const { url, method } of routes) {
    fastify.options(url, (request, reply) => {
      varyOnOrigin(reply);
      const origin = allowedOrigin(request);
      const asked = request.headers['access-control-request-method'];
      if (origin !== undefined && asked === method) {
        void reply
          .header('access-control-allow-origin', origin)
          .header('access-control-allow-methods', method)
          .header('access-control-allow-headers', CORS_ALLOWED_HEADERS.join(', '))
          .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS));
      }
      // not a preflight from an allowed origin: an answer without CORS headers, which a browser refuses
      void reply.header('allow', `${method}, OPTIONS`).status(204).send();
    });
  }
}

// caches keep answers to different origins apart
function varyOnOrigin(reply: FastifyReply): void {
  void reply.header('vary', 'Origin');
}
