// @koodrive/web-upload: upload files from a browser to a KooDrive upload service.
export {
  browserLanguage,
  DEFAULT_HASH_FIRST_UP_TO,
  prepareUpload,
  upload,
  type UploadOptions,
  type UploadResult,
} from './upload.js';
export { ApiCode, ApiError, PartUploadError, type RetryPolicy, type UploadVia } from '@koodrive/upload-client';
export type { Phase, UploadProgress } from './progress.js';
export { listResumes, removeResume, type ResumeRecord } from './resume-store.js';
