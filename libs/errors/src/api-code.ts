// KooDrive's result codes (API.md), plus the two this service adds for its gateway duties: their
// one home is the upload client's core, which the service and its clients share.
import { ApiCode } from '@koodrive/upload-client';

export { ApiCode };

// 13000402 has two messages; the variant says which.
export type MessageKey = ApiCode | 'integrityFailed';

export const HTTP_STATUS: Readonly<Record<ApiCode, number>> = {
  [ApiCode.Success]: 200,
  [ApiCode.RequestError]: 400,
  [ApiCode.InvalidParameter]: 400,
  [ApiCode.InternalError]: 500,
  [ApiCode.InsufficientSpace]: 400,
  [ApiCode.TaskNotFound]: 400,
  [ApiCode.UploadIncomplete]: 400,
  [ApiCode.StatusChangeFailed]: 400,
  [ApiCode.DuplicateFileName]: 400,
  [ApiCode.NoPermission]: 400,
  [ApiCode.InvalidToken]: 401,
  [ApiCode.TooManyRequests]: 429,
};
