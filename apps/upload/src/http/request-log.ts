// One JSON line per request (pino-http through nestjs-pino): method, route, status, duration, and
// what an operator searches by: trace id, span id, X-Traceid, user id, fileId, outcome code.
// What the request came to is in its context (@koodrive/context), read when the response has
// finished. Credentials never reach a log line: the request serializer keeps no
// headers, and any field that could hold a token or a presigned URL is redacted wherever it appears.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestMethod } from '@nestjs/common';
import type { Params } from 'nestjs-pino';
import type { AppConfig } from '@koodrive/config';
import { contextOf } from '@koodrive/context';
import { redactUrl } from '@koodrive/telemetry';

const FILE_ID = /^Fi[A-Za-z0-9]{1,62}$/;

// A fileId worth logging: the service's own format, never whatever a client sent.
export function loggableFileId(value: unknown): string | undefined {
  return typeof value === 'string' && FILE_ID.test(value) ? value : undefined;
}

// Paths pino redacts at any depth it is given; '*' covers one level of nesting.
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'authorization',
  'token',
  'accessToken',
  'uploadToken',
  'uploadUrl',
  '*.authorization',
  '*.token',
  '*.accessToken',
  '*.uploadToken',
  '*.uploadUrl',
];

const QUIET_ROUTES = new Set(['/healthz', '/readyz']);

export function requestLogParams(config: AppConfig): Params {
  return {
    // every route (nestjs-pino's default, '{/*splat}', matches none under the Fastify adapter of Nest 12)
    forRoutes: [{ path: '*path', method: RequestMethod.ALL }],
    pinoHttp: {
      level: config.logLevel,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      autoLogging: {
        ignore: (request) =>
          QUIET_ROUTES.has((request as IncomingMessage & { originalUrl?: string }).originalUrl ?? request.url ?? ''),
      },
      serializers: {
        req: (request: { method?: string; url?: string }) => ({
          method: request.method,
          url: request.url === undefined ? undefined : redactUrl(request.url),
        }),
        res: (response: { statusCode?: number }) => ({ statusCode: response.statusCode }),
      },
      // read once the response is done (pino-http asks at the start too: nothing is known then)
      customProps: (request: IncomingMessage, response: ServerResponse) => {
        const context = response.headersSent ? contextOf(request) : undefined;
        return context === undefined
          ? {}
          : {
              xTraceid: context.xTraceid,
              traceId: context.traceId,
              spanId: context.spanId,
              ...context.outcome,
            };
      },
      customLogLevel: (_request, response, error) =>
        error !== undefined || response.statusCode >= 500 ? 'error' : 'info',
      customSuccessMessage: (request, response) =>
        `${request.method} ${redactUrl(request.url ?? '')} ${response.statusCode}`,
      customErrorMessage: (request, response) =>
        `${request.method} ${redactUrl(request.url ?? '')} ${response.statusCode}`,
      quietReqLogger: true,
    },
  };
}
