export {
  type ByteRange,
  InvalidPartsError,
  OBJECT_STORAGE,
  type ObjectHead,
  ObjectNotFoundError,
  type ObjectStorage,
  type ReadIntoOptions,
  sameEtag,
  type StoredPart,
  UploadNotFoundError,
} from './object-storage.js';
export { DiskObjectStorage } from './disk-object-storage.js';
export { S3ObjectStorage } from './s3-object-storage.js';
export { StorageModule } from './storage.module.js';
