// The HTTP server span named by its route (`POST /koodrive/ose/v1/files/create`, http.route set),
// as trace search and dashboards group by it. There is no Fastify instrumentation: its span per
// hook (onRequest, onSend, onResponse... for every plugin) cost more than the whole request's
// database and S3 spans together and told nothing a log line does not.
import { trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';

export function nameServerSpans(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    // the request's handling starts inside the HTTP instrumentation's context: its server span
    const span = trace.getActiveSpan();
    const route = request.routeOptions.url;
    if (span !== undefined && route !== undefined) {
      span.updateName(`${request.method} ${route}`);
      span.setAttribute('http.route', route);
    }
    done();
  });
}
