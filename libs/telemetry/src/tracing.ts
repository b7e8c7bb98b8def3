// Starts the OpenTelemetry SDK. Called from the app's tracing.ts before Nest or any instrumented
// library is imported; the ESM loader hook must be registered before those imports too.
import { register as registerHooks } from 'import-in-the-middle/register-hooks.mjs';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { ConsoleTraceExporter } from './console-trace.exporter.js';
import { RedactUrlSpanProcessor } from './redact-url.processor.js';
import { XTraceidPropagator } from './x-traceid.propagator.js';
import { KOODRIVE_TRACE_ID_ATTRIBUTE, X_TRACEID_HEADER, requestXTraceid } from './x-traceid.js';

// what the instrumentations below patch (their InstrumentationNodeModuleDefinition names); the S3
// calls' spans are made by libs/storage itself (s3-span.ts): no instrumentation wraps the SDK
const INSTRUMENTED_MODULES = ['http', 'https', 'pg', 'pg-pool', 'ioredis'] as const;

export interface TracingOptions {
  readonly serviceName: string;
  readonly disabled: boolean;
  readonly otlpEndpoint: string | undefined;
  // tests pass their own (an in-memory exporter); otherwise OTLP when an endpoint is configured,
  // else, in the embedded mode only, a compact tree per request printed to the console (a
  // deployment with no endpoint traces nothing: it pays for no span)
  readonly spanProcessors?: SpanProcessor[];
  readonly embedded?: boolean;
}

export interface Tracing {
  shutdown(): Promise<void>;
}

export function startTracing(options: TracingOptions): Tracing {
  if (
    options.disabled ||
    (options.spanProcessors === undefined && options.otlpEndpoint === undefined && options.embedded !== true)
  ) {
    return { shutdown: () => Promise.resolve() };
  }
  // The loader hook that lets the instrumentations patch ES modules runs in this thread
  // (module.registerHooks), where module.register would start a loader thread with a V8 heap of its
  // own (about 80 MiB resident), and wraps only the modules the instrumentations patch.
  registerHooks({ include: [...INSTRUMENTED_MODULES] });
  const spanProcessors =
    options.spanProcessors ??
    (options.otlpEndpoint === undefined
      ? [new BatchSpanProcessor({ exporter: new ConsoleTraceExporter(), scheduledDelayMillis: 200 })]
      : [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })]);
  // sampling: OTEL_TRACES_SAMPLER (and OTEL_TRACES_SAMPLER_ARG), read by the SDK; by default
  // parentbased_always_on: a request whose caller sampled its trace (traceparent, X-Traceid) is
  // traced, and so is every request without a parent; parentbased_traceidratio with an argument
  // keeps that share of the root traces
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    // first: the exporters only ever see spans whose URLs have no signature
    spanProcessors: [new RedactUrlSpanProcessor(), ...spanProcessors],
    metricReaders: [],
    logRecordProcessors: [],
    textMapPropagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator(), new XTraceidPropagator()],
    }),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => request.url === '/healthz' || request.url === '/readyz',
        requestHook: (span, request) => {
          if (!('headers' in request)) {
            return;
          }
          // the request context derives the same id (requestXTraceid is deterministic in the trace id)
          span.setAttribute(
            KOODRIVE_TRACE_ID_ATTRIBUTE,
            requestXTraceid(request.headers[X_TRACEID_HEADER], span.spanContext().traceId),
          );
        },
      }),
      // the route names the server span (nameServerSpans); no span per Fastify hook
      // a span per statement, none per pool checkout
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}

// The W3C trace id of the span active here, if tracing records one.
export function activeTraceId(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context !== undefined && isSpanContextValid(context) ? context.traceId : undefined;
}
