// The three KooDrive calls (API.md) from a browser: every call carries the upload's X-Traceid, the
// token (asked afresh of `getToken` for each attempt) and the `language` the service words `msg` in.
// Answers are judged on `code`, never on `msg`; a failure keeps the service's msg (localized) and
// the X-Traceid it echoed, for the person to read and quote.
import { DEFAULT_RETRY, retryDelay, sleep, type RetryPolicy } from './backoff.js';

const BASE_PATH = '/koodrive/ose/v1/files';
// API.md's codes this client acts on
export const CODE_SUCCESS = 0;
export const CODE_INTERNAL = 13000201;
export const CODE_TASK_NOT_FOUND = 13000401;
export const CODE_UPLOAD_INCOMPLETE = 13000402;
export const CODE_STATUS_CHANGE_FAILED = 13000403;
// without a readable expiry, a part URL is taken to last the documented 3600 s
const DEFAULT_URL_TTL_MS = 3_600_000;

export class KooDriveError extends Error {
  constructor(
    readonly endpoint: string,
    readonly code: number,
    readonly status: number,
    // the service's msg, in the language asked for
    readonly apiMessage: string,
    readonly traceId: string | null,
  ) {
    super(`${endpoint}: ${apiMessage} (${code}, HTTP ${status})`);
    this.name = 'KooDriveError';
  }
}

export type UploadVia = 's3' | 'service';

export interface PartRequest {
  readonly partNumber: number;
  readonly partSize: number;
  readonly partOffset: number;
  readonly hashCtx?: readonly number[];
}

export interface PartUrl {
  readonly partNumber: number;
  readonly uploadUrl: string;
  // ms since the epoch
  readonly expiresAt: number;
}

export interface Created {
  readonly fileId: string;
  readonly rapidUpload: boolean;
  readonly exist: boolean;
  readonly urls: readonly PartUrl[];
}

export interface ApiOptions {
  // the service's origin (and path prefix, if any); '' for the page's own origin
  readonly url: string;
  readonly getToken: () => string | Promise<string>;
  // en-US or zh-CN (API.md, `language`)
  readonly language: string;
  readonly traceId: string;
  readonly uploadVia?: UploadVia;
  readonly signal?: AbortSignal;
  readonly retry?: RetryPolicy;
}

type Envelope = Record<string, unknown> & { code: number; msg: string };

// create is repeated only when the service surely did not act on it: a lost answer would leave a
// second task behind
type Idempotence = 'idempotent' | 'only-if-not-received';

export class KooDriveApi {
  private readonly retry: RetryPolicy;

  constructor(private readonly options: ApiOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  async create(body: {
    fileName: string;
    length: number;
    sha256: string;
    autoRename: number;
    multiParts: readonly PartRequest[];
  }): Promise<Created> {
    const answer = await this.post('create', { ...body, ...this.via() }, 'only-if-not-received');
    return {
      fileId: typeof answer.fileId === 'string' ? answer.fileId : '',
      rapidUpload: answer.rapidUpload === true,
      exist: answer.exist === true,
      urls: Array.isArray(answer.multiParts) ? partUrlsOf(answer.multiParts) : [],
    };
  }

  async uploadUrl(fileId: string, multiParts: readonly PartRequest[]): Promise<PartUrl[]> {
    const answer = await this.post('multipart/uploadUrl', { fileId, multiParts, ...this.via() }, 'idempotent');
    return Array.isArray(answer.multiParts) ? partUrlsOf(answer.multiParts) : [];
  }

  async complete(fileId: string, sha256: string): Promise<{ sha256: string; length: number | null }> {
    const answer = await this.post('complete', { fileId, sha256 }, 'idempotent');
    return {
      sha256: typeof answer.sha256 === 'string' ? answer.sha256 : sha256,
      length: typeof answer.length === 'number' ? answer.length : null,
    };
  }

  private via(): { uploadVia?: UploadVia } {
    return this.options.uploadVia === undefined ? {} : { uploadVia: this.options.uploadVia };
  }

  private async post(endpoint: string, payload: unknown, idempotence: Idempotence): Promise<Envelope> {
    const body = JSON.stringify(payload);
    for (let attempt = 1; ; attempt++) {
      const headers = {
        'content-type': 'application/json',
        authorization: `Bearer ${await this.options.getToken()}`,
        language: this.options.language,
        'x-traceid': this.options.traceId,
      };
      let response: Response;
      try {
        response = await fetch(`${this.options.url}${BASE_PATH}/${endpoint}`, {
          method: 'POST',
          headers,
          body,
          signal: this.options.signal,
        });
      } catch (error) {
        // a browser does not say whether the request left: only an idempotent call is sent again
        if (!isNetworkError(error) || idempotence !== 'idempotent' || attempt >= this.retry.attempts) {
          throw error;
        }
        await sleep(retryDelay(attempt, this.retry), this.options.signal);
        continue;
      }
      const answer = await envelopeOf(response);
      if (answer.code === CODE_SUCCESS && response.ok) {
        return answer;
      }
      const error = new KooDriveError(
        endpoint,
        answer.code,
        response.status,
        answer.msg,
        response.headers.get('x-traceid'),
      );
      if (!retryable(response.status, answer.code, idempotence) || attempt >= this.retry.attempts) {
        throw error;
      }
      await sleep(retryDelay(attempt, this.retry, response.headers.get('retry-after')), this.options.signal);
    }
  }
}

function retryable(status: number, code: number, idempotence: Idempotence): boolean {
  if (status === 429 || status === 503) {
    return true;
  }
  return idempotence === 'idempotent' && (status >= 500 || code === CODE_STATUS_CHANGE_FAILED);
}

async function envelopeOf(response: Response): Promise<Envelope> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as Envelope;
    if (typeof parsed.code === 'number') {
      return { ...parsed, msg: String(parsed.msg) };
    }
  } catch {
    // not the service's envelope (a proxy's error page, say)
  }
  return { code: CODE_INTERNAL, msg: `HTTP ${response.status}: ${text.slice(0, 200)}` };
}

function partUrlsOf(entries: readonly unknown[]): PartUrl[] {
  return entries.map((entry) => {
    const part = entry as Record<string, unknown>;
    if (typeof part.partNumber !== 'number' || typeof part.uploadUrl !== 'string') {
      throw new Error('the service answered a part without partNumber or uploadUrl');
    }
    const expiresAt = typeof part.expiresAt === 'string' ? Date.parse(part.expiresAt) : NaN;
    return {
      partNumber: part.partNumber,
      uploadUrl: part.uploadUrl,
      expiresAt: Number.isFinite(expiresAt) ? expiresAt : Date.now() + DEFAULT_URL_TTL_MS,
    };
  });
}

// fetch's own failures (no connection, reset): TypeError; an abort is not one
export function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError;
}
