// Builds the Nest application on Fastify: body limits per route, X-Traceid on every response, Fastify's
// JSON parser only (and the raw stream for part PUTs). Used by main.ts and by the end-to-end tests.
import { NestFactory } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { Logger } from 'nestjs-pino';
import { httpRequestDuration, httpRequests } from '@koodrive/metrics';
import { nameServerSpans, requestXTraceid, X_TRACEID_HEADER } from '@koodrive/telemetry';
import { contextOf, openRequestContext, runInContext } from '@koodrive/context';
import { parseLanguage } from '@koodrive/errors';
import { SwaggerModule } from '@nestjs/swagger';
import { loadAppConfig } from '@koodrive/config';
import { AppModule } from './app.module.js';
import { PART_UPLOAD_ROUTE } from './parts/part-upload.controller.js';
import { buildOpenApiDocument } from './openapi.js';
import { serveUploadPage } from './web/upload-page.js';
import { QuietNestLogger } from './quiet-nest-logger.js';
import { ShutdownState } from './health/shutdown-state.js';
import { answerClientError } from './http/client-error.js';
import { LARGE_BODY_LIMIT_BYTES, registerBodyParsers } from './http/json-body.js';
import { registerHeavyRequestGate } from './http/heavy-requests.js';
import { serializeReply } from './http/large-answers.js';
import { applyBodyLimits, httpServerOptions } from './http/http-limits.js';
import { API_CORS_ROUTES, registerCors } from './http/cors.js';
import { registerServiceIndex } from './http/service-index.js';

export async function createApp(): Promise<NestFastifyApplication> {
  const config = loadAppConfig();
  const adapter = new FastifyAdapter({
    // the largest a route takes; each route's own limit is set as it is registered
    bodyLimit: LARGE_BODY_LIMIT_BYTES,
    // X-Forwarded-* only from the ingress (TRUST_PROXY); a client's own would shape the part URLs
    trustProxy: config.trustProxy.length === 0 ? false : [...config.trustProxy],
    clientErrorHandler: answerClientError,
    ...httpServerOptions(config.http),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, adapter, {
    // Fastify's own JSON parser only: bodies are JSON (a form body is 13000101, not parsed)
    bodyParser: false,
    // Nest's own boot messages wait for the JSON logger
    bufferLogs: true,
  });
  app.useLogger(new QuietNestLogger(app.get(Logger)));
  const fastify = app.getHttpAdapter().getInstance();
  // a part PUT to the service's own part URL is streamed, never parsed; any other body that is
  // not JSON stays 13000101
  // (a large body waits for the requests with one before it: one at a time)
  registerBodyParsers(fastify, PART_UPLOAD_ROUTE, registerHeavyRequestGate(fastify));
  // JSON, with the long lists the envelope serialized in slices spliced in (as bytes: Fastify sends a
  // Buffer payload as it is, though its types say the serializer answers a string)
  fastify.setReplySerializer(serializeReply as (payload: unknown) => string);
  applyBodyLimits(fastify, config.http);
  // browsers on CORS_ORIGINS: preflights of the endpoints and the part PUT, readable answers
  registerCors(fastify, config.corsOrigins, [...API_CORS_ROUTES, { url: PART_UPLOAD_ROUTE, method: 'PUT' }]);
  const shutdown = app.get(ShutdownState);
  nameServerSpans(fastify);
  registerRequestContext(fastify, shutdown);
  registerShutdownAndMetricsHooks(fastify, shutdown);
  // the API described, outside production
  if (config.nodeEnv !== 'production') {
    SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), { jsonDocumentUrl: 'docs/openapi.json' });
    // and the browser upload page (apps/web), and GET / pointing at both
    serveUploadPage(fastify, (message) => app.get(Logger).warn(message, 'UploadPage'));
    registerServiceIndex(fastify);
  }
  await app.init();
  await fastify.ready();
  return app;
}

// The request's context (@koodrive/context), opened once as the request comes in, with its
// X-Traceid on the answer; entered again once the body is parsed (the parser runs outside it).
function registerRequestContext(fastify: FastifyInstance, shutdown: ShutdownState): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const span = trace.getActiveSpan()?.spanContext();
    const traced = span !== undefined && isSpanContextValid(span);
    const context = openRequestContext(request.raw, {
      xTraceid: requestXTraceid(request.headers[X_TRACEID_HEADER], traced ? span.traceId : undefined),
      traceId: traced ? span.traceId : undefined,
      spanId: traced ? span.spanId : undefined,
      language: parseLanguage(request.headers.language),
    });
    void reply.header('x-traceid', context.xTraceid);
    shutdown.started(request.raw, reply.raw, context.xTraceid);
    runInContext(context, done);
  });
  fastify.addHook('preValidation', (request, _reply, done) => {
    const context = contextOf(request.raw);
    if (context === undefined) {
      done();
    } else {
      runInContext(context, done);
    }
  });
}

// Connection: close while shutting down, and every answer counted and timed by route.
function registerShutdownAndMetricsHooks(fastify: FastifyInstance, shutdown: ShutdownState): void {
  // once shutting down, every response closes its connection: a keep-alive connection would
  // otherwise hold the server's close until the client's keep-alive timeout
  fastify.addHook('onSend', async (_request, reply) => {
    if (shutdown.isDraining) {
      void reply.header('connection', 'close');
    }
  });
  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const context = contextOf(request.raw);
    httpRequests.inc({
      route,
      method: request.method,
      status: reply.statusCode,
      code: context?.outcome.code ?? (reply.statusCode < 400 ? 0 : 'none'),
    });
    const traceId = context?.traceId;
    httpRequestDuration.observe({
      labels: { route, method: request.method },
      value: reply.elapsedTime / 1000,
      // the trace of this request, so a latency spike on a dashboard leads to its trace
      exemplarLabels: (traceId === undefined ? {} : { traceId }) as Record<string, string>,
    });
  });
}
