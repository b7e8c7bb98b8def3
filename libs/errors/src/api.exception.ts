import { ApiCode, HTTP_STATUS, type MessageKey } from './api-code.js';

export interface ApiExceptionOptions {
  // which of a code's messages (13000402 has two)
  readonly messageKey?: MessageKey;
  // appended to the localized message: names the parameter or part at fault, never internals
  readonly detail?: string;
  // sent as Retry-After (429)
  readonly retryAfterSeconds?: number;
  readonly cause?: unknown;
}

// A failure with a KooDrive code: the filter turns it into the envelope and HTTP status.
export class ApiException extends Error {
  readonly messageKey: MessageKey;
  readonly detail: string | undefined;
  readonly httpStatus: number;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly code: ApiCode,
    options: ApiExceptionOptions = {},
  ) {
    super(`${code}${options.detail === undefined ? '' : `: ${options.detail}`}`, { cause: options.cause });
    this.name = 'ApiException';
    this.messageKey = options.messageKey ?? code;
    this.detail = options.detail;
    this.httpStatus = HTTP_STATUS[code];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  static invalidParameter(detail: string): ApiException {
    return new ApiException(ApiCode.InvalidParameter, { detail });
  }

  static taskNotFound(): ApiException {
    return new ApiException(ApiCode.TaskNotFound);
  }

  // the file moved on (completing, completed, failed, expired) while parts were still coming
  static notOpenForUpload(): ApiException {
    return new ApiException(ApiCode.StatusChangeFailed, { detail: 'the file is no longer open for upload' });
  }

  static integrityFailed(detail?: string): ApiException {
    return new ApiException(ApiCode.UploadIncomplete, { messageKey: 'integrityFailed', detail });
  }
}

// Raised by libs at their edge when a dependency cannot be reached; the filter makes it a 503.
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: 'storage' | 'database' | 'redis',
    cause: unknown,
  ) {
    super(`${dependency} unavailable`, { cause });
    this.name = 'DependencyUnavailableError';
  }
}
