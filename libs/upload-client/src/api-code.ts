// KooDrive's result codes (API.md), plus the two this service adds for its gateway duties: what the
// service answers and what its clients match on (never on `msg`, which is localized).
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
