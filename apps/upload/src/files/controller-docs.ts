// What the API's controllers have in common for the OpenAPI document: the headers every call may
// carry and the errors any call may answer.
import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ErrorEnvelope } from '../http/envelope.dto.js';

export const REQUEST_ERRORS =
  '13000101 malformed request (JSON, content type, size, nesting); 13000102 invalid parameter (named in msg); 13000410 no file.upload scope, the shared folder (x-hw-share-folder-id) not granted, or no record of the app-authenticated user';

const COMMON_ERRORS = [
  ApiResponse({
    status: 401,
    type: ErrorEnvelope,
    description:
      '13000901 missing, malformed, unknown or expired credentials: a session token, or an app signature that is wrong, stale, from the future or replayed (WWW-Authenticate)',
  }),
  ApiResponse({ status: 429, type: ErrorEnvelope, description: '13000903 over the per-user rate limit (Retry-After)' }),
  ApiResponse({ status: 500, type: ErrorEnvelope, description: '13000201 internal error' }),
  ApiResponse({
    status: 503,
    type: ErrorEnvelope,
    description: '13000201 a dependency is unavailable (Retry-After); retry',
  }),
];

// The class decorators of an API controller under `tag`.
export const ApiController = (tag: string): ClassDecorator =>
  applyDecorators(
    ApiTags(tag),
    ApiBearerAuth(),
    ApiHeader({ name: 'X-Traceid', required: false, description: 'trace id, echoed (1-64 of A-Z a-z 0-9 _ -)' }),
    ApiHeader({ name: 'language', required: false, description: 'en-US (default) or zh-CN: the language of msg' }),
    ApiHeader({
      name: 'x-hw-share-folder-id',
      required: false,
      description: 'act in this shared folder (granted file.upload in the session or user record)',
    }),
    ...COMMON_ERRORS,
  );
