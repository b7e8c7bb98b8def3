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

// The request an error answers, for the message of an unknown route (which names it).
export interface AnsweredRequest {
  readonly method: string;
  readonly url: string;
}

// at most this much of an unknown path is said back
const MAX_PATH_IN_MESSAGE = 200;

export function toErrorResponse(error: unknown, language: Language, request?: AnsweredRequest): ErrorResponse {
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
    const unknownRoute = (requestError === 404 || requestError === 405) && request !== undefined;
    return {
      status: requestError,
      body: {
        code: ApiCode.RequestError,
        msg: message(language, ApiCode.RequestError, unknownRoute ? noRoute(request) : undefined),
      },
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

// "No route for GET /path." (the path without its query, which may carry a signature)
function noRoute(request: AnsweredRequest): string {
  const path = request.url.split('?')[0] ?? '';
  const shown = path.length > MAX_PATH_IN_MESSAGE ? `${path.slice(0, MAX_PATH_IN_MESSAGE)}…` : path;
  return `No route for ${request.method} ${shown}.`;
}
