import {
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  TraceFlags,
  isSpanContextValid,
  trace,
} from '@opentelemetry/api';
import { X_TRACEID_HEADER, parentSpanIdFromXTraceid, parseXTraceid, traceIdFromXTraceid } from './x-traceid.js';

// Runs after the W3C propagator: a request that carried `traceparent` keeps it; one that carried
// only a valid X-Traceid joins the trace derived from it.
export class XTraceidPropagator implements TextMapPropagator {
  inject(): void {
    // Downstream calls carry W3C `traceparent`; X-Traceid is KooDrive's edge header only.
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const existing = trace.getSpanContext(context);
    if (existing !== undefined && isSpanContextValid(existing)) {
      return context;
    }
    const xTraceid = parseXTraceid(getter.get(carrier, X_TRACEID_HEADER));
    if (xTraceid === undefined) {
      return context;
    }
    return trace.setSpanContext(context, {
      traceId: traceIdFromXTraceid(xTraceid),
      spanId: parentSpanIdFromXTraceid(xTraceid),
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
  }

  fields(): string[] {
    return [X_TRACEID_HEADER];
  }
}
