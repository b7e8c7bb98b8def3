// An answer's envelope (`{code, msg, ...fields}`, API.md) and the error a refusal becomes: the
// service's code and its msg (in the language asked for), with the X-Traceid it echoed, for a
// person to read and quote.
import { ApiCode } from './api-code.js';

export type Envelope = Readonly<Record<string, unknown>> & { readonly code: ApiCode; readonly msg: string };

export class ApiError extends Error {
  constructor(
    // `create`, `uploadUrl`, `complete`, `part PUT`
    readonly endpoint: string,
    readonly code: ApiCode,
    readonly status: number,
    readonly apiMessage: string,
    readonly traceId: string | null,
  ) {
    super(`${endpoint} answered ${code} (HTTP ${status}): ${apiMessage}`);
    this.name = 'ApiError';
  }
}

export function isEnvelope(text: string): boolean {
  try {
    return typeof (JSON.parse(text) as { code?: unknown }).code === 'number';
  } catch {
    return false;
  }
}

// The envelope of an answer's body; anything else (a proxy's error page, say) reads as an internal
// error that quotes it.
export function envelopeOf(status: number, text: string): Envelope {
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    if (typeof parsed.code === 'number') {
      return { ...parsed, code: parsed.code, msg: String(parsed.msg) };
    }
  } catch {
    // not JSON
  }
  return { code: ApiCode.InternalError, msg: `HTTP ${status}: ${text.slice(0, 200)}` };
}

// The upload task is gone (expired, aborted, someone else's): nothing more can be sent to it.
export function isTaskGone(error: unknown): boolean {
  return error instanceof ApiError && error.code === ApiCode.TaskNotFound;
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
