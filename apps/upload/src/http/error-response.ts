// One mapping from any thrown value to KooDrive's envelope. Errors Fastify raises itself (body
// parsing) reach it too: Nest routes them through its exception filters.
import {
  ApiCode,
  ApiException,
  DependencyUnavailableError,
  HTTP_STATUS,
  type Language,
  message,
} from '@koodrive/errors';

export interface ErrorResponse {
  readonly status: number;
  readonly body: { code: number; msg: string };
  readonly headers: Readonly<Record<string, string>>;
  // an unexpected error: log it (the client only sees 13000201)
  readonly unexpected: boolean;
}

const RETRY_AFTER_SECONDS = 5;

export function toErrorResponse(error: unknown, language: Language): ErrorResponse {
  if (error instanceof ApiException) {
    const headers: Record<string, string> = {};
    if (error.code === ApiCode.InvalidToken) {
      headers['www-authenticate'] = 'Bearer error="invalid_token"';
    }
    if (error.retryAfterSeconds !== undefined) {
      headers['retry-after'] = String(error.retryAfterSeconds);
    }
    return {
      status: error.httpStatus,
      body: { code: error.code, msg: message(language, error.messageKey, error.detail) },
      headers,
      unexpected: false,
    };
  }
  if (error instanceof DependencyUnavailableError) {
    return {
      status: 503,
      body: { code: ApiCode.InternalError, msg: message(language, ApiCode.InternalError) },
      headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
      unexpected: false,
    };
  }
  const requestError = fastifyRequestError(error);
  if (requestError !== undefined) {
    return {
      status: requestError,
      body: { code: ApiCode.RequestError, msg: message(language, ApiCode.RequestError) },
      headers: {},
      unexpected: false,
    };
  }
  return {
    status: HTTP_STATUS[ApiCode.InternalError],
    body: { code: ApiCode.InternalError, msg: message(language, ApiCode.InternalError) },
    headers: {},
    unexpected: true,
  };
}

// Fastify's and Nest's own client errors (bad JSON, wrong content type, body too large,
// unknown route): all 13000101; unknown routes and methods keep their 404/405.
function fastifyRequestError(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) {
    return undefined;
  }
  const { code, statusCode, status } = error as { code?: unknown; statusCode?: unknown; status?: unknown };
  const httpStatus = typeof statusCode === 'number' ? statusCode : typeof status === 'number' ? status : undefined;
  if (httpStatus === 404 || httpStatus === 405) {
    return httpStatus;
  }
  if (typeof code === 'string' && code.startsWith('FST_ERR_CTP_')) {
    return 400;
  }
  if (httpStatus !== undefined && httpStatus >= 400 && httpStatus < 500) {
    return 400;
  }
  return undefined;
}
