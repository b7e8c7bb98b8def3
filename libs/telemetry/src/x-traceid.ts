// KooDrive's X-Traceid: validated per API.md and mapped deterministically onto a W3C trace id,
// so every service that sees one X-Traceid joins one trace.
import { createHash, randomBytes } from 'node:crypto';

export const X_TRACEID_HEADER = 'x-traceid';
export const KOODRIVE_TRACE_ID_ATTRIBUTE = 'koodrive.trace_id';

const VALID_X_TRACEID = /^[A-Za-z0-9_-]{1,64}$/;
const W3C_TRACE_ID = /^[0-9a-f]{32}$/;
const ZERO_TRACE_ID = '0'.repeat(32);

// The header's value when it is acceptable; anything else is ignored (never reflected).
export function parseXTraceid(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && VALID_X_TRACEID.test(value) ? value : undefined;
}

// An id that already is a W3C trace id (what this service generates) maps onto itself;
// any other id onto the first 128 bits of its SHA-256.
export function traceIdFromXTraceid(xTraceid: string): string {
  if (W3C_TRACE_ID.test(xTraceid) && xTraceid !== ZERO_TRACE_ID) {
    return xTraceid;
  }
  return createHash('sha256').update(xTraceid).digest('hex').slice(0, 32);
}

// The id of the virtual parent span every service derives for one X-Traceid.
export function parentSpanIdFromXTraceid(xTraceid: string): string {
  return createHash('sha256').update(`span:${xTraceid}`).digest('hex').slice(0, 16);
}

// A fresh X-Traceid when the request had none: the active trace id when there is one, so the
// id the client sees finds the trace; random otherwise.
export function newXTraceid(activeTraceId: string | undefined): string {
  return activeTraceId !== undefined && W3C_TRACE_ID.test(activeTraceId) && activeTraceId !== ZERO_TRACE_ID
    ? activeTraceId
    : randomBytes(16).toString('hex');
}

// The request's X-Traceid: the client's when acceptable, else a fresh one (the request's trace id,
// when tracing records one, so the same id is derived wherever it is asked for).
export function requestXTraceid(header: string | string[] | undefined, traceId: string | undefined): string {
  return parseXTraceid(header) ?? newXTraceid(traceId);
}
