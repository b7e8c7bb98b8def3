// The upload API's calls (API.md) from any client: every call carries the run's X-Traceid, its
// credentials (asked of `authenticate` for each attempt: a bearer token, or an app signature made
// afresh), the shared folder it works in and the `language` of msg. Answers are judged on `code`;
// a refusal keeps the service's msg and the X-Traceid it echoed. Retries follow the contract:
// 429 and 503 after their Retry-After, and an idempotent call also after a 5xx, a 13000403 or a
// lost connection; create, whose lost answer would leave a second task behind, only when the
// service surely did not act on it (a refused connection, 429, 503).
import { ApiCode } from './api-code.js';
import { ApiError, describeError, type Envelope, envelopeOf, isEnvelope } from './api-error.js';
import { causeCode, DEFAULT_RETRY, isNetworkError, pause, type RetryPolicy, retryDelay } from './retry.js';
import {
  type CompleteAnswer,
  type CreateAnswer,
  type CreateRequest,
  endpointName,
  endpointPath,
  FILE_UPLOAD,
  type PartRequest,
  type PartUrl,
  partUrlsOf,
  UPLOAD_URL_ENDPOINT,
  type UploadEndpoints,
  type UploadVia,
} from './wire.js';

const CONTENT_TYPE = 'application/json';
export const SHARE_FOLDER_HEADER = 'x-hw-share-folder-id';

// The request an attempt is about to send, for its credentials: `headers` are the ones that go
// with it beside content-type (x-hw-*: an app signature must cover them).
export interface OutgoingCall {
  readonly url: URL;
  readonly body: string;
  readonly contentType: string;
  readonly headers: Readonly<Record<string, string>>;
}

// The Authorization header (and, for an app, X-Date and X-User-Id) of one attempt.
export type Authenticate = (call: OutgoingCall) => Readonly<Record<string, string>> | Promise<Record<string, string>>;

// A session token, or a source of the current one (asked before each attempt).
export function bearer(token: string | (() => string | Promise<string>)): Authenticate {
  return async () => ({ authorization: `Bearer ${typeof token === 'string' ? token : await token()}` });
}

// One attempt's outcome, for those who count them (a load test, a soak).
export interface AnsweredCall {
  // `create`, `uploadUrl`, `complete`...
  readonly endpoint: string;
  readonly attempt: number;
  // null: no answer (the error says why)
  readonly status: number | null;
  readonly code: ApiCode | null;
  // whether the body was the service's envelope (not a proxy's error page, say)
  readonly envelope: boolean;
  readonly ms: number;
  readonly error?: unknown;
}

export interface KooDriveApiOptions {
  // the service's origin (and path prefix, if any); '' in a page for the page's own origin
  readonly baseUrl: string;
  readonly traceId: string;
  readonly authenticate: Authenticate;
  // x-hw-share-folder-id on every call; null or absent: the caller's own space
  readonly shareFolder?: string | null;
  // en-US or zh-CN: the language of msg
  readonly language?: string;
  // where the part URLs point (create and uploadUrl); absent: the deployment's choice
  readonly uploadVia?: UploadVia;
  readonly signal?: AbortSignal;
  readonly retry?: RetryPolicy;
  // 'any': create is retried as the idempotent calls are (a test that counts the tasks left over)
  readonly createRetries?: 'safe' | 'any';
  // told before each retry, for the user
  readonly onRetry?: (endpoint: string, retry: number, reason: string) => void;
  readonly onAnswer?: (call: AnsweredCall) => void;
}

type Idempotence = 'idempotent' | 'only-if-not-received';

export class KooDriveApi {
  private readonly retry: RetryPolicy;

  constructor(private readonly options: KooDriveApiOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  get traceId(): string {
    return this.options.traceId;
  }

  async create(request: CreateRequest, endpoints: UploadEndpoints = FILE_UPLOAD): Promise<CreateAnswer> {
    const body = await this.post(
      endpoints.create,
      {
        ...request.fields,
        length: request.length,
        ...(request.sha256 === undefined ? {} : { sha256: request.sha256 }),
        ...(request.multiParts === undefined ? {} : { multiParts: request.multiParts }),
        ...this.via(),
      },
      this.options.createRetries === 'any' ? 'idempotent' : 'only-if-not-received',
    );
    const name = endpointName(endpoints.create);
    if (typeof body.fileId !== 'string' || body.fileId === '') {
      throw new Error(`${name} answered without fileId`);
    }
    return {
      fileId: body.fileId,
      fileName: typeof body.fileName === 'string' ? body.fileName : undefined,
      rapidUpload: body.rapidUpload === true,
      exist: body.exist === true,
      // a service that hands out no URLs at create leaves them to uploadUrl
      multiParts: body.multiParts === undefined ? [] : partUrlsOf(body.multiParts, name),
    };
  }

  // `uploadVia`: where these URLs point, when not where the client's other URLs do
  async uploadUrl(
    fileId: string,
    multiParts: readonly PartRequest[],
    uploadVia = this.options.uploadVia,
  ): Promise<PartUrl[]> {
    const payload = { fileId, multiParts, ...(uploadVia === undefined ? {} : { uploadVia }) };
    const body = await this.post(UPLOAD_URL_ENDPOINT, payload, 'idempotent');
    return partUrlsOf(body.multiParts, endpointName(UPLOAD_URL_ENDPOINT));
  }

  // `sha256`: the digest the file must have, when create did not have it (or to check it again).
  async complete(fileId: string, sha256?: string, endpoints: UploadEndpoints = FILE_UPLOAD): Promise<CompleteAnswer> {
    const body = await this.post(
      endpoints.complete,
      sha256 === undefined ? { fileId } : { fileId, sha256 },
      'idempotent',
    );
    return {
      sha256: typeof body.sha256 === 'string' ? body.sha256 : null,
      length: typeof body.length === 'number' ? body.length : null,
    };
  }

  private via(): { uploadVia?: UploadVia } {
    return this.options.uploadVia === undefined ? {} : { uploadVia: this.options.uploadVia };
  }

  private async post(endpoint: string, payload: unknown, idempotence: Idempotence): Promise<Envelope> {
    const name = endpointName(endpoint);
    const url = new URL(`${this.options.baseUrl}${endpointPath(endpoint)}`, pageAddress());
    const json = JSON.stringify(payload);
    for (let attempt = 1; ; attempt++) {
      const started = Date.now();
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: await this.headersFor(url, json),
          body: json,
          signal: this.options.signal,
        });
      } catch (error) {
        const ms = Date.now() - started;
        this.options.onAnswer?.({ endpoint: name, attempt, status: null, code: null, envelope: false, ms, error });
        const retryable =
          isNetworkError(error) && (idempotence === 'idempotent' || causeCode(error) === 'ECONNREFUSED');
        if (!retryable || attempt >= this.retry.attempts) {
          throw error;
        }
        await this.wait(name, attempt, describeError(error), null);
        continue;
      }
      const text = await response.text();
      const body = envelopeOf(response.status, text);
      const ms = Date.now() - started;
      const envelope = isEnvelope(text);
      this.options.onAnswer?.({ endpoint: name, attempt, status: response.status, code: body.code, envelope, ms });
      if (body.code === ApiCode.Success && response.ok) {
        return body;
      }
      const error = new ApiError(name, body.code, response.status, body.msg, response.headers.get('x-traceid'));
      if (!retryable(response.status, body.code, idempotence) || attempt >= this.retry.attempts) {
        throw error;
      }
      await this.wait(name, attempt, `${body.code} (HTTP ${response.status})`, response.headers.get('retry-after'));
    }
  }

  // An attempt's headers, signed anew for each attempt under app credentials.
  private async headersFor(url: URL, json: string): Promise<Record<string, string>> {
    const { shareFolder, language, traceId } = this.options;
    const carried: Record<string, string> =
      shareFolder === null || shareFolder === undefined ? {} : { [SHARE_FOLDER_HEADER]: shareFolder };
    return {
      'content-type': CONTENT_TYPE,
      'x-traceid': traceId,
      ...(language === undefined ? {} : { language }),
      ...carried,
      ...(await this.options.authenticate({ url, body: json, contentType: CONTENT_TYPE, headers: carried })),
    };
  }

  private async wait(endpoint: string, attempt: number, reason: string, retryAfter: string | null): Promise<void> {
    this.options.onRetry?.(endpoint, attempt, reason);
    await pause(retryDelay(attempt, this.retry, retryAfter), this.options.signal);
  }
}

function retryable(status: number, code: ApiCode, idempotence: Idempotence): boolean {
  if (status === 429 || status === 503) {
    return true;
  }
  return idempotence === 'idempotent' && (status >= 500 || code === ApiCode.StatusChangeFailed);
}

// In a page, relative base URLs ('' for the page's own origin) resolve against the page.
function pageAddress(): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href;
}
