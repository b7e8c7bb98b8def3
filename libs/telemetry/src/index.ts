export { type Tracing, type TracingOptions, activeTraceId, startTracing } from './tracing.js';
export { nameServerSpans } from './server-span.js';
export { XTraceidPropagator } from './x-traceid.propagator.js';
export {
  KOODRIVE_TRACE_ID_ATTRIBUTE,
  X_TRACEID_HEADER,
  newXTraceid,
  parentSpanIdFromXTraceid,
  parseXTraceid,
  requestXTraceid,
  traceIdFromXTraceid,
} from './x-traceid.js';
export { redactUrl } from './redact-url.js';
