// One context per request, opened once at the edge (the server's first hook) and read wherever a
// layer needs to know about the request it serves: KooDrive's X-Traceid and the W3C trace ids,
// the language of `msg`, the body's bytes (for app signatures), the caller, and the outcome the
// request log and the metrics tell. Edge code finds it from the raw request; code below the
// controllers reads it from AsyncLocalStorage, entered at the first hook and again once the body
// is parsed (the parser's events run outside it).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import type { Language } from '@koodrive/errors';

export interface RequestContext {
  readonly xTraceid: string;
  // the W3C trace and span of the request's server span, when tracing records one
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
  readonly language: Language;
  // the body as it arrived (a JSON body; empty for none)
  rawBody: Buffer;
  // set by the authentication guard (an auth Principal; typed there)
  principal: unknown;
  // what the request came to, for its log line and metrics
  readonly outcome: { code?: number; userId?: string; fileId?: string };
}

const contexts = new WeakMap<IncomingMessage, RequestContext>();
const storage = new AsyncLocalStorage<RequestContext>();

export function openRequestContext(
  request: IncomingMessage,
  fields: Pick<RequestContext, 'xTraceid' | 'traceId' | 'spanId' | 'language'>,
): RequestContext {
  const context: RequestContext = { ...fields, rawBody: Buffer.alloc(0), principal: undefined, outcome: {} };
  contexts.set(request, context);
  return context;
}

// The request's context; undefined only for a request the server never opened one for.
export function contextOf(request: IncomingMessage): RequestContext | undefined {
  return contexts.get(request);
}

// Runs `work` (and everything it starts) inside the request's context.
export function runInContext<T>(context: RequestContext, work: () => T): T {
  return storage.run(context, work);
}

// The context of the request being served here, if any (a background job has none).
export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}
