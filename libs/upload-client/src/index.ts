// @koodrive/upload-client: the upload client's core, the same in the CLI (apps/client), the page
// (apps/web) and the benches. Browser-safe (no node: imports; lint refuses one): the platforms
// bring how a file is read and hashed, how a part's bytes travel, and where progress is kept.
export { ApiCode } from './api-code.js';
export { ApiError, describeError, envelopeOf, type Envelope, isEnvelope, isTaskGone } from './api-error.js';
export { fetchTransport } from './fetch-transport.js';
export {
  type AnsweredCall,
  type Authenticate,
  bearer,
  KooDriveApi,
  type KooDriveApiOptions,
  type OutgoingCall,
  SHARE_FOLDER_HEADER,
} from './koodrive-api.js';
export {
  DEFAULT_PARALLEL,
  DEFAULT_PART_SIZE,
  type FilePart,
  partRequestOf,
  PartSizeError,
  partSizeFor,
  splitIntoParts,
} from './part-plan.js';
export {
  PartScheduler,
  type PartSchedulerOptions,
  type PartTransport,
  PartUploadError,
  type PutAnswer,
  URL_BATCH,
  type UrlSource,
} from './part-scheduler.js';
export {
  abortError,
  backoffDelay,
  causeCode,
  DEFAULT_RETRY,
  isNetworkError,
  isRetryableStatus,
  NetworkError,
  pause,
  type RetryPolicy,
  retryAfterMs,
  retryDelay,
} from './retry.js';
export {
  type FileSource,
  type ResumeStore,
  type TaskStarted,
  upload,
  type UploadEvents,
  type UploadJob,
  type UploadOutcome,
  type UploadState,
} from './upload-flow.js';
export {
  API_PREFIX,
  type CompleteAnswer,
  type CreateAnswer,
  type CreateRequest,
  endpointName,
  endpointPath,
  FILE_UPLOAD,
  REVISION_UPLOAD,
  type PartRequest,
  type PartUrl,
  partUrlsOf,
  UPLOAD_URL_ENDPOINT,
  type UploadEndpoints,
  type UploadVia,
} from './wire.js';
