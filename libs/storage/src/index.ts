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
export { chunksOf, type PartBody, partBodyOf } from './part-body.js';
export { putPart } from './part-put.js';
export { readRange } from './range-read.js';
export { S3Presigner } from './s3-presigner.js';
export { type ReadTarget, SocketReads } from './socket-reads.js';
export { DiskObjectStorage } from './disk-object-storage.js';
export { S3ObjectStorage } from './s3-object-storage.js';
export { StorageModule } from './storage.module.js';
