// KooDrive's result codes (API.md), plus the two this service adds for its gateway duties.
export enum ApiCode {
  Success = 0,
  RequestError = 13000101,
  InvalidParameter = 13000102,
  InternalError = 13000201,
  InsufficientSpace = 13000311,
  TaskNotFound = 13000401,
  UploadIncomplete = 13000402,
  StatusChangeFailed = 13000403,
  DuplicateFileName = 13000405,
  NoPermission = 13000410,
  InvalidToken = 13000901,
  TooManyRequests = 13000903,
}

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
