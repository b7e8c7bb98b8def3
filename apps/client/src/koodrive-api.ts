// A small typed client for the three KooDrive endpoints (API.md): every call carries the run's
// X-Traceid, its credentials (a session token, or an app signature made afresh for each attempt)
// and the shared folder it works in; answers are checked on `code` (never on `msg`), and failures
// keep the trace id the service echoed so a user can quote it.
import { ApiCode } from '@koodrive/errors';
import { type AppCredentials, AppSigner } from './app-signer.js';
import { backoffDelay, DEFAULT_RETRY, isNetworkError, pause, type RetryPolicy, retryAfterMs } from './backoff.js';

const BASE_PATH = '/koodrive/ose/v1/files';
const CONTENT_TYPE = 'application/json';
const SHARE_FOLDER_HEADER = 'x-hw-share-folder-id';
// without a readable expiry, a part URL is taken to last the documented 3600 s
const DEFAULT_URL_TTL_MS = 3_600_000;

// How every call proves who it is for (API.md, "Credentials").
export type Credentials =
  { readonly kind: 'token'; readonly token: string } | ({ readonly kind: 'app' } & AppCredentials);

export class ApiError extends Error {
  constructor(
    readonly endpoint: string,
    readonly code: ApiCode,
    readonly status: number,
    readonly apiMessage: string,
    readonly traceId: string | null,
  ) {
    super(`${endpoint} answered ${code} (HTTP ${status}): ${apiMessage}`);
  }
}

export interface CreateRequest {
  readonly fileName: string;
  readonly length: number;
  readonly sha256: string;
  readonly autoRename: number;
  // the parts to have URLs for in the answer
  readonly multiParts: readonly PartRequest[];
}

export interface CreateAnswer {
  readonly fileId: string;
  readonly fileName: string;
  readonly rapidUpload: boolean;
  readonly exist: boolean;
  readonly multiParts: PartUrl[];
}

export interface PartRequest {
  readonly partNumber: number;
  readonly partSize: number;
  readonly partOffset: number;
  // parallel mode: the SHA-256 state words h0..h7 after the bytes before the part; none for part 1
  readonly hashCtx?: readonly number[];
}

export interface PartUrl {
  readonly partNumber: number;
  readonly uploadUrl: string;
  // ms since the epoch
  readonly expiresAt: number;
}

export interface CompleteAnswer {
  readonly sha256: string | null;
  readonly length: number | null;
}

export interface KooDriveApiOptions {
  readonly baseUrl: string;
  readonly credentials: Credentials;
  // x-hw-share-folder-id on every call; null: the caller's own space
  readonly shareFolder: string | null;
  readonly traceId: string;
  readonly signal?: AbortSignal;
  readonly retry?: RetryPolicy;
  // told before each retry, for the user
  readonly onRetry?: (what: string, retry: number, reason: string) => void;
}

// `code` as the wire carries it: one of API.md's codes
type Envelope = Record<string, unknown> & { code: ApiCode; msg: string };

// Whether a call may be sent again after an answer (or no answer) like this one.
type Idempotence = 'idempotent' | 'only-if-not-received';

export class KooDriveApi {
  private readonly retry: RetryPolicy;
  // the Authorization header (and, for an app, X-Date and X-User-Id) of one attempt
  private readonly authenticate: (url: URL, json: string) => Promise<Record<string, string>>;

  constructor(private readonly options: KooDriveApiOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    const { credentials } = options;
    if (credentials.kind === 'token') {
      const bearer = { authorization: `Bearer ${credentials.token}` };
      this.authenticate = () => Promise.resolve(bearer);
    } else {
      const signer = new AppSigner(credentials);
      this.authenticate = (url, json) => signer.sign({ url, contentType: CONTENT_TYPE, body: json }, options.signal);
    }
  }

  get traceId(): string {
    return this.options.traceId;
  }

  async create(request: CreateRequest): Promise<CreateAnswer> {
    // a create lost on the way back would leave a second task, so it is repeated only when the
    // service surely did not act on it (refused connection, 429, 503)
    const body = await this.post('create', request, 'only-if-not-received');
    return {
      fileId: requireString(body, 'fileId', 'create'),
      fileName: typeof body.fileName === 'string' ? body.fileName : request.fileName,
      rapidUpload: body.rapidUpload === true,
      exist: body.exist === true,
      // a service that hands out no URLs at create leaves them to uploadUrl
      multiParts: Array.isArray(body.multiParts) ? partUrlsOf(body.multiParts, 'create') : [],
    };
  }

  async uploadUrl(fileId: string, multiParts: readonly PartRequest[]): Promise<PartUrl[]> {
    const body = await this.post('multipart/uploadUrl', { fileId, multiParts }, 'idempotent');
    if (!Array.isArray(body.multiParts)) {
      throw new Error('uploadUrl answered without multiParts');
    }
    return partUrlsOf(body.multiParts, 'uploadUrl');
  }

  async complete(fileId: string, sha256: string): Promise<CompleteAnswer> {
    const body = await this.post('complete', { fileId, sha256 }, 'idempotent');
    return {
      sha256: typeof body.sha256 === 'string' ? body.sha256 : null,
      length: typeof body.length === 'number' ? body.length : null,
    };
  }

  private async post(endpoint: string, payload: unknown, idempotence: Idempotence): Promise<Envelope> {
    const url = new URL(`${this.options.baseUrl}${BASE_PATH}/${endpoint}`);
    const json = JSON.stringify(payload);
    for (let attempt = 1; ; attempt++) {
      const headers = await this.headersFor(url, json);
      let response: Response;
      try {
        response = await fetch(url, { method: 'POST', headers, body: json, signal: this.options.signal });
      } catch (error) {
        const retryable =
          isNetworkError(error) && (idempotence === 'idempotent' || causeCode(error) === 'ECONNREFUSED');
        if (!retryable || attempt >= this.retry.attempts) {
          throw error;
        }
        await this.wait(endpoint, attempt, describeError(error), null);
        continue;
      }
      const traceId = response.headers.get('x-traceid');
      const text = await response.text();
      let body: Envelope;
      try {
        body = JSON.parse(text) as Envelope;
        if (typeof body.code !== 'number') {
          throw new TypeError('no code');
        }
      } catch {
        // not the service's envelope (a proxy's error page, say)
        body = {
          code: ApiCode.InternalError,
          msg: `HTTP ${response.status}: ${text.slice(0, 200)}`,
        };
      }
      if (body.code === ApiCode.Success && response.ok) {
        return body;
      }
      const error = new ApiError(endpoint, body.code, response.status, String(body.msg), traceId);
      if (!this.retryable(response.status, body.code, idempotence) || attempt >= this.retry.attempts) {
        throw error;
      }
      await this.wait(endpoint, attempt, `${body.code} (HTTP ${response.status})`, response.headers.get('retry-after'));
    }
  }

  // An attempt's headers, signed anew for each attempt under app credentials.
  private async headersFor(url: URL, json: string): Promise<Record<string, string>> {
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPE,
      'x-traceid': this.options.traceId,
      ...(await this.authenticate(url, json)),
    };
    if (this.options.shareFolder !== null) {
      headers[SHARE_FOLDER_HEADER] = this.options.shareFolder;
    }
    return headers;
  }

  private retryable(status: number, code: ApiCode, idempotence: Idempotence): boolean {
    if (status === 429 || status === 503) {
      return true;
    }
    return idempotence === 'idempotent' && (status >= 500 || code === ApiCode.StatusChangeFailed);
  }

  private async wait(endpoint: string, attempt: number, reason: string, retryAfter: string | null): Promise<void> {
    this.options.onRetry?.(endpoint, attempt, reason);
    const delay = retryAfterMs(retryAfter, this.retry.maxMs) ?? backoffDelay(attempt, this.retry);
    await pause(delay, this.options.signal);
  }
}

// The part URLs of a create or uploadUrl answer.
function partUrlsOf(entries: readonly unknown[], endpoint: string): PartUrl[] {
  return entries.map((entry) => {
    const part = entry as Record<string, unknown>;
    if (typeof part.partNumber !== 'number' || typeof part.uploadUrl !== 'string') {
      throw new Error(`${endpoint} answered a part without partNumber or uploadUrl`);
    }
    const expiresAt = typeof part.expiresAt === 'string' ? Date.parse(part.expiresAt) : NaN;
    return {
      partNumber: part.partNumber,
      uploadUrl: part.uploadUrl,
      expiresAt: Number.isFinite(expiresAt) ? expiresAt : Date.now() + DEFAULT_URL_TTL_MS,
    };
  });
}

function requireString(body: Envelope, field: string, endpoint: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') {
    throw new Error(`${endpoint} answered without ${field}`);
  }
  return value;
}

function causeCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
