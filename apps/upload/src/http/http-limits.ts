// Bounds on what a client can hold open: headers in within HTTP_HEADERS_TIMEOUT_SECONDS, a whole
// request within HTTP_REQUEST_TIMEOUT_SECONDS, an idle keep-alive connection closed after
// HTTP_KEEP_ALIVE_TIMEOUT_SECONDS, and a request body that sends nothing for
// HTTP_BODY_IDLE_TIMEOUT_SECONDS cut off (the socket destroyed, its descriptor returned). Once a
// body is in, the idle bound is lifted: a long complete keeps its client waiting, by design.
import type { ServerOptions } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '@koodrive/config';

// How often node's server looks for connections past their headers or request timeout (its
// default, 30 s, would let a stalled client hold a socket that much longer).
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;

// The server's own timeouts, for Fastify's options (which pass `http` on to node's createServer).
export function httpServerOptions(limits: AppConfig['http']): {
  http: ServerOptions;
  requestTimeout: number;
  keepAliveTimeout: number;
} {
  const requestTimeout = limits.requestTimeoutSeconds * 1000;
  return {
    http: {
      headersTimeout: Math.min(limits.headersTimeoutSeconds * 1000, requestTimeout),
      requestTimeout,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    },
    requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeoutSeconds * 1000,
  };
}

// The per-request bounds, as hooks.
export function applyBodyLimits(fastify: FastifyInstance, limits: AppConfig['http']): void {
  const bodyIdleMs = limits.bodyIdleTimeoutSeconds * 1000;
  fastify.addHook('onRequest', (request, _reply, done) => {
    const { raw } = request;
    // node's server destroys a socket whose timeout fires when nobody listens for 'timeout'
    raw.socket.setTimeout(bodyIdleMs);
    raw.once('end', () => raw.socket.setTimeout(0));
    done();
  });
  // an answer sent before the request's body was read (a refused part PUT) closes the connection:
  // the rest of the body is not worth reading
  fastify.addHook('onSend', (request, reply, _payload, done) => {
    if (!request.raw.complete) {
      void reply.header('connection', 'close');
    }
    done();
  });
}
