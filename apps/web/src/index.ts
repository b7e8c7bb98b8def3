// @koodrive/web-upload: upload files from a browser to a KooDrive upload service.
export { upload, browserLanguage, type UploadOptions, type UploadResult } from './upload.js';
export { KooDriveError, type UploadVia } from './api.js';
export { PartError } from './part-sender.js';
export type { Phase, UploadProgress } from './progress.js';
export type { RetryPolicy } from './backoff.js';
export { listResumes, removeResume, type ResumeRecord } from './resume-store.js';
