// The span of one S3 call, named and attributed as the AWS SDK's instrumentation names its own
// (S3.<operation>, rpc.*): made here for the SDK's control calls and the lean data path alike, so no
// instrumentation wraps the SDK. The HTTP requests under it are not traced again: the call is the span.
import { type Attributes, context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';

const tracer = trace.getTracer('koodrive-upload');

// As the pg and ioredis instrumentations are set up: a call outside any trace (a readiness probe's
// HeadBucket) makes no span of its own.
export function s3Span<T>(operation: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  if (trace.getActiveSpan() === undefined) {
    return context.with(suppressTracing(context.active()), work);
  }
  return tracer.startActiveSpan(
    `S3.${operation}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { 'rpc.system': 'aws-api', 'rpc.service': 'S3', 'rpc.method': operation, ...attributes },
    },
    (span) =>
      context.with(suppressTracing(context.active()), async () => {
        try {
          return await work();
        } catch (error) {
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          span.end();
        }
      }),
  );
}
