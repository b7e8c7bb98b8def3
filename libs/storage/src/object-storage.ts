// The storage port: only the object-store calls this service makes. S3ObjectStorage implements it.
import type { Readable } from 'node:stream';
import type { PartBody } from './part-body.js';

export const OBJECT_STORAGE = Symbol('OBJECT_STORAGE');

export interface StoredPart {
  readonly partNumber: number;
  readonly size: number;
  readonly etag: string;
}

export interface ByteRange {
  readonly start: number;
  // inclusive
  readonly end: number;
}

export interface ReadIntoOptions {
  readonly onData?: (filled: number) => void;
  readonly signal?: AbortSignal;
}

export interface ObjectHead {
  readonly size: number;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface ObjectStorage {
  // whether clients can PUT parts to the store itself (presigned URLs); if not, parts go through
  // the service's own part URLs
  readonly presignsParts: boolean;
  createMultipartUpload(key: string, metadata: Readonly<Record<string, string>>): Promise<string>;
  // a presigned UploadPart URL for each of `partNumbers`, in their order
  presignUploadParts(
    key: string,
    uploadId: string,
    partNumbers: readonly number[],
    expiresInSeconds: number,
  ): Promise<string[]>;
  // streams `size` bytes of `body` into the part as they arrive; answers the part's ETag. Once
  // `signal` aborts, the part is not stored (if the store has not taken it already).
  uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: PartBody,
    size: number,
    signal?: AbortSignal,
  ): Promise<string>;
  // every part, across all pages, in part-number order
  listParts(key: string, uploadId: string): Promise<StoredPart[]>;
  completeMultipartUpload(key: string, uploadId: string, parts: readonly StoredPart[]): Promise<void>;
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  // null when there is no object at the key
  headObject(key: string): Promise<ObjectHead | null>;
  // the object's bytes, or bytes [range.start, range.end] (inclusive) of it, streamed and checked
  // against the length the store announced; ObjectNotFoundError when there is no object at the key
  readObject(key: string, range?: ByteRange): Promise<Readable>;
  // bytes [start, start + into.length) of the object, received into `into` (no copy on the way
  // where the store allows it), reporting through onData how many have landed: all of them, or a
  // rejection after the count reported (a caller can go on from there). ObjectNotFoundError when
  // there is no object at the key.
  readInto(key: string, start: number, into: Buffer, options?: ReadIntoOptions): Promise<void>;
  deleteObject(key: string): Promise<void>;
  ping(): Promise<void>;
}

// The multipart upload is gone (aborted, completed already, or purged by the store).
export class UploadNotFoundError extends Error {
  constructor(cause: unknown) {
    super('multipart upload not found', { cause });
    this.name = 'UploadNotFoundError';
  }
}

// The store refused the part list (a part missing, changed or too small).
export class InvalidPartsError extends Error {
  constructor(cause: unknown) {
    super('parts rejected by storage', { cause });
    this.name = 'InvalidPartsError';
  }
}

// There is no object at the key.
export class ObjectNotFoundError extends Error {
  constructor(cause: unknown) {
    super('object not found', { cause });
    this.name = 'ObjectNotFoundError';
  }
}

// Whether two ETags name the same bytes: stores quote them (and may mark them weak) or not.
export function sameEtag(a: string, b: string): boolean {
  const bare = (etag: string) => etag.replace(/^W\//, '').replaceAll('"', '').toLowerCase();
  return bare(a) === bare(b);
}
