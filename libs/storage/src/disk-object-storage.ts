// The embedded object store (S3_ENDPOINT unset): objects on local disk, with S3's multipart
// semantics and errors (model: tusd's filestore beside its s3store).
//
//   <root>/<key>                        an object; `.<name>.meta.json` beside it holds its metadata
//   <root>/.uploads/<uploadId>/         a multipart upload: upload.json (key, metadata),
//                                       part-<n>.json (etag, size, data file), data-<n>-<random>
//
// Every write goes to a file no reader looks at, is fsynced, then renamed into place: a crash never
// leaves a half-written object or part under its final name, and what it leaves behind (temp files,
// unreferenced part data, retired upload dirs) is never read. Key segments may not start with a
// dot, so the store's own names never collide with an object's.
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { DependencyUnavailableError } from '@koodrive/errors';
import {
  type ByteRange,
  InvalidPartsError,
  type ObjectHead,
  ObjectNotFoundError,
  type ObjectStorage,
  type ReadIntoOptions,
  sameEtag,
  type StoredPart,
  UploadNotFoundError,
} from './object-storage.js';
import { chunksOf, type PartBody } from './part-body.js';

const UPLOADS_DIR = '.uploads';
const UPLOAD_RECORD = 'upload.json';
const UPLOAD_ID = /^[0-9a-f]{32}$/;
const PART_POINTER = /^part-(\d+)\.json$/;
// S3's EntityTooSmall: every part but the last must have at least this many bytes
const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PART_NUMBER = 10_000;
// part pointers read at once (each holds a file descriptor while it is read)
const READ_BATCH = 64;
const READ_CHUNK = 1024 * 1024;
// the disk failing or full: retryable, as S3 being unreachable is
const UNAVAILABLE_CODES = new Set(['EIO', 'ENOSPC', 'EDQUOT', 'EROFS', 'EMFILE', 'ENFILE', 'EBUSY', 'EAGAIN']);
// what a lookup of a name that is not there (or not a file) answers
const ABSENT_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

interface UploadRecord {
  readonly key: string;
  readonly metadata: Record<string, string>;
}

// part-<n>.json: the part's committed version. Replacing this one small file (rename) switches the
// part's bytes and its ETag together.
interface PartPointer {
  readonly etag: string;
  readonly size: number;
  readonly data: string;
}

interface OpenUpload {
  readonly dir: string;
  readonly record: UploadRecord;
}

export class DiskObjectStorage implements ObjectStorage {
  readonly presignsParts = false;
  readonly root: string;
  private readonly uploads: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.uploads = path.join(this.root, UPLOADS_DIR);
  }

  // The store rooted at `root`, its directories created.
  static async open(root: string): Promise<DiskObjectStorage> {
    const storage = new DiskObjectStorage(root);
    await mkdir(storage.uploads, { recursive: true });
    return storage;
  }

  async createMultipartUpload(key: string, metadata: Readonly<Record<string, string>>): Promise<string> {
    this.objectPath(key);
    const uploadId = randomBytes(16).toString('hex');
    const dir = path.join(this.uploads, uploadId);
    const record: UploadRecord = { key, metadata: { ...metadata } };
    await disk(async () => {
      await mkdir(dir);
      // a dir without its record (a crash right here) is not an upload
      await writeFileDurably(path.join(dir, UPLOAD_RECORD), JSON.stringify(record));
      await syncDir(this.uploads);
    });
    return uploadId;
  }

  presignUploadParts(
    _key: string,
    _uploadId: string,
    _partNumbers: readonly number[],
    _expiresInSeconds: number,
  ): Promise<string[]> {
    return Promise.reject(
      new Error(
        'local-disk object storage has no presigned part URLs (presignsParts is false); parts go through the service',
      ),
    );
  }

  async uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: PartBody,
    size: number,
    signal?: AbortSignal,
  ): Promise<string> {
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw new RangeError(`part number ${partNumber} is not 1-${MAX_PART_NUMBER}`);
    }
    const { dir } = await this.openUpload(key, uploadId);
    const data = `data-${partNumber}-${randomBytes(8).toString('hex')}`;
    const pointerFile = path.join(dir, `part-${partNumber}.json`);
    let previous: PartPointer | null;
    let etag: string;
    try {
      etag = await writeBody(path.join(dir, data), body, size);
      // the pointer is the part's commit: none once the caller gave up
      signal?.throwIfAborted();
      previous = await readPointer(pointerFile);
      const pointer: PartPointer = { etag, size, data };
      await writeFileDurably(pointerFile, JSON.stringify(pointer));
    } catch (error) {
      await rm(path.join(dir, data), { force: true }).catch(() => undefined);
      // the upload was aborted or completed while the part streamed in
      throw isAbsent(error) ? new UploadNotFoundError(error) : translateDiskError(error);
    }
    // the replaced version's bytes; a complete reading them holds them open, and a version lost to
    // a concurrent re-upload of the same part stays until the upload dir goes
    if (previous !== null && previous.data !== data) {
      await rm(path.join(dir, previous.data), { force: true }).catch(() => undefined);
    }
    return etag;
  }

  async listParts(key: string, uploadId: string): Promise<StoredPart[]> {
    const { dir } = await this.openUpload(key, uploadId);
    const parts = await readParts(dir);
    return [...parts.entries()]
      .map(([partNumber, { size, etag }]) => ({ partNumber, size, etag }))
      .sort((a, b) => a.partNumber - b.partNumber);
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: readonly StoredPart[]): Promise<void> {
    const target = this.objectPath(key);
    const { dir, record } = await this.openUpload(key, uploadId);
    const stored = await readParts(dir);
    const chosen = checkParts(parts, stored);
    // held open from here: a re-upload of a part replaces and unlinks its file, not these bytes
    const handles: FileHandle[] = [];
    try {
      for (const pointer of chosen) {
        try {
          handles.push(await open(path.join(dir, pointer.data), 'r'));
        } catch (error) {
          if (!isAbsent(error)) {
            throw translateDiskError(error);
          }
          // gone with the upload (UploadNotFoundError), or replaced by a re-upload since listed
          await this.openUpload(key, uploadId);
          throw new InvalidPartsError(new Error(`part ${pointer.data} changed while the upload was being completed`));
        }
      }
      await disk(async () => {
        await mkdir(path.dirname(target), { recursive: true });
        // metadata first: an object is never under its name without it
        await writeFileDurably(metadataPath(target), JSON.stringify(record.metadata));
        await writeFileDurably(target, concatenate(handles));
      });
    } finally {
      await Promise.all(handles.map((handle) => handle.close()));
    }
    // a crash before this leaves the upload open: completing it again gives the same object
    await this.retire(dir, uploadId);
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    let upload: OpenUpload;
    try {
      upload = await this.openUpload(key, uploadId);
    } catch (error) {
      if (error instanceof UploadNotFoundError) {
        return;
      }
      throw error;
    }
    await this.retire(upload.dir, uploadId);
  }

  async headObject(key: string): Promise<ObjectHead | null> {
    const file = this.objectPath(key);
    let stats;
    try {
      stats = await stat(file);
    } catch (error) {
      if (isAbsent(error)) {
        return null;
      }
      throw translateDiskError(error);
    }
    if (!stats.isFile()) {
      return null;
    }
    return { size: stats.size, metadata: await readMetadata(file) };
  }

  async readObject(key: string, range?: ByteRange): Promise<Readable> {
    const { handle, size } = await this.openObject(key);
    try {
      if (range === undefined) {
        // objects are replaced by rename, never written in place: the open file is the object
        return handle.createReadStream({ highWaterMark: READ_CHUNK });
      }
      const { start, end } = satisfiable(range.start, range.end, size);
      return handle.createReadStream({ start, end, highWaterMark: READ_CHUNK });
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async readInto(key: string, start: number, into: Buffer, options: ReadIntoOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    const { handle, size } = await this.openObject(key);
    try {
      if (!Number.isSafeInteger(start) || start < 0 || start + into.length > size) {
        throw new RangeError(`bytes ${start}-${start + into.length - 1} are not all in an object of ${size} bytes`);
      }
      let filled = 0;
      while (filled < into.length) {
        options.signal?.throwIfAborted();
        const { bytesRead } = await disk(() =>
          handle.read(into, filled, Math.min(READ_CHUNK, into.length - filled), start + filled),
        );
        if (bytesRead === 0) {
          throw new DependencyUnavailableError('storage', new Error(`read ${filled} of ${into.length} bytes`));
        }
        filled += bytesRead;
        options.onData?.(filled);
      }
    } finally {
      // the bytes read stand whatever closing a read-only handle says
      await handle.close().catch(() => undefined);
    }
  }

  async deleteObject(key: string): Promise<void> {
    const file = this.objectPath(key);
    await disk(async () => {
      await unlinkIfPresent(file);
      await unlinkIfPresent(metadataPath(file));
    });
  }

  async ping(): Promise<void> {
    try {
      await access(this.uploads, constants.R_OK | constants.W_OK);
    } catch (error) {
      throw new DependencyUnavailableError('storage', error);
    }
  }

  // The object's file for a key. Keys that could leave the root or name the store's own files are
  // refused: absolute, empty segments, segments starting with a dot (`.`, `..`, `.uploads`).
  private objectPath(key: string): string {
    const segments = key.split('/');
    if (
      key.includes('\0') ||
      key.includes('\\') ||
      path.isAbsolute(key) ||
      segments.some((segment) => segment === '' || segment.startsWith('.'))
    ) {
      throw new RangeError(`object key refused by local-disk storage: ${JSON.stringify(key)}`);
    }
    const file = path.join(this.root, ...segments);
    if (!file.startsWith(this.root + path.sep)) {
      throw new RangeError(`object key refused by local-disk storage: ${JSON.stringify(key)}`);
    }
    return file;
  }

  // The object opened, with its size (one stat: it is on every read of the read-back)
  private async openObject(key: string): Promise<{ handle: FileHandle; size: number }> {
    const file = this.objectPath(key);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      throw isAbsent(error) ? new ObjectNotFoundError(error) : translateDiskError(error);
    }
    try {
      const stats = await handle.stat();
      // a key that names a directory of other keys is no object
      if (!stats.isFile()) {
        throw new ObjectNotFoundError(new Error(`not a file: ${file}`));
      }
      return { handle, size: stats.size };
    } catch (error) {
      await handle.close();
      throw translateDiskError(error);
    }
  }

  // The upload's dir and record; UploadNotFoundError when it is unknown, finished or aborted, or
  // belongs to another key (as S3 answers).
  private async openUpload(key: string, uploadId: string): Promise<OpenUpload> {
    this.objectPath(key);
    if (!UPLOAD_ID.test(uploadId)) {
      throw new UploadNotFoundError(new Error(`not an upload id: ${JSON.stringify(uploadId)}`));
    }
    const dir = path.join(this.uploads, uploadId);
    let record: UploadRecord;
    try {
      record = JSON.parse(await readFile(path.join(dir, UPLOAD_RECORD), 'utf8')) as UploadRecord;
    } catch (error) {
      throw isAbsent(error) ? new UploadNotFoundError(error) : translateDiskError(error);
    }
    if (record.key !== key) {
      throw new UploadNotFoundError(new Error(`upload ${uploadId} is not for this key`));
    }
    return { dir, record };
  }

  // Ends the upload at once (one rename), then deletes its files; a crash in between leaves a
  // retired dir nothing reads.
  private async retire(dir: string, uploadId: string): Promise<void> {
    const retired = path.join(this.uploads, `.retired-${uploadId}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(dir, retired);
    } catch (error) {
      if (isAbsent(error)) {
        return;
      }
      throw translateDiskError(error);
    }
    await rm(retired, { recursive: true, force: true }).catch(() => undefined);
  }
}

// The named parts' committed versions, in order; InvalidPartsError as S3 refuses a part list
// (InvalidPart, InvalidPartOrder, EntityTooSmall).
function checkParts(parts: readonly StoredPart[], stored: ReadonlyMap<number, PartPointer>): PartPointer[] {
  if (parts.length === 0) {
    throw new InvalidPartsError(new Error('no parts named'));
  }
  return parts.map((part, index) => {
    const previous = parts[index - 1];
    if (previous !== undefined && previous.partNumber >= part.partNumber) {
      throw new InvalidPartsError(new Error(`part ${part.partNumber} out of order`));
    }
    const pointer = stored.get(part.partNumber);
    if (pointer === undefined || !sameEtag(pointer.etag, part.etag)) {
      throw new InvalidPartsError(new Error(`part ${part.partNumber} is not there with ETag ${part.etag}`));
    }
    if (index < parts.length - 1 && pointer.size < MIN_PART_SIZE) {
      throw new InvalidPartsError(new Error(`part ${part.partNumber} is smaller than ${MIN_PART_SIZE} bytes`));
    }
    return pointer;
  });
}

// Streams the part's body into `file` while taking its MD5 (S3's ETag for a part), then fsyncs it.
// A body of other than `size` bytes is refused (the caller removes the file).
async function writeBody(file: string, body: PartBody, size: number): Promise<string> {
  const md5 = createHash('md5');
  let bytes = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    // each chunk is written before the next is asked for (a lent chunk goes back then); a write
    // failing stops the body, left to its owner (who answers its client)
    for await (const chunk of chunksOf(body)) {
      bytes += chunk.length;
      if (bytes > size) {
        throw new Error(`the part's body is longer than ${size} bytes`);
      }
      md5.update(chunk);
      yield chunk;
    }
  }
  const handle = await open(file, 'wx');
  try {
    await handle.writeFile(counted());
    if (bytes !== size) {
      throw new Error(`the part's body ended after ${bytes} of ${size} bytes`);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return `"${md5.digest('hex')}"`;
}

// Every part's committed version, by part number.
async function readParts(dir: string): Promise<Map<number, PartPointer>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw isAbsent(error) ? new UploadNotFoundError(error) : translateDiskError(error);
  }
  const numbered = names.flatMap((name) => {
    const match = PART_POINTER.exec(name);
    return match?.[1] === undefined ? [] : [{ partNumber: Number(match[1]), file: path.join(dir, name) }];
  });
  const parts = new Map<number, PartPointer>();
  for (let i = 0; i < numbered.length; i += READ_BATCH) {
    const batch = numbered.slice(i, i + READ_BATCH);
    const pointers = await Promise.all(batch.map(({ file }) => readPointer(file)));
    batch.forEach(({ partNumber }, j) => {
      const pointer = pointers[j];
      if (pointer !== null && pointer !== undefined) {
        parts.set(partNumber, pointer);
      }
    });
  }
  return parts;
}

async function readPointer(file: string): Promise<PartPointer | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as PartPointer;
  } catch (error) {
    if (isAbsent(error)) {
      return null;
    }
    throw translateDiskError(error);
  }
}

async function readMetadata(file: string): Promise<Record<string, string>> {
  try {
    return JSON.parse(await readFile(metadataPath(file), 'utf8')) as Record<string, string>;
  } catch (error) {
    if (isAbsent(error)) {
      return {};
    }
    throw translateDiskError(error);
  }
}

function metadataPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.meta.json`);
}

async function* concatenate(handles: readonly FileHandle[]): AsyncGenerator<Buffer> {
  for (const handle of handles) {
    for await (const chunk of handle.createReadStream({ start: 0, autoClose: false, highWaterMark: READ_CHUNK })) {
      yield chunk as Buffer;
    }
  }
}

// Writes `content` to a temp file beside `file`, fsyncs it, renames it over `file` and fsyncs the
// directory: readers see the old file or the whole new one, before and after a crash.
async function writeFileDurably(file: string, content: string | AsyncIterable<Buffer>): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  await syncDir(path.dirname(file));
}

// Makes the renames in `dir` durable. Windows cannot open a directory for this (nor needs to).
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') {
    return;
  }
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    if (!isAbsent(error)) {
      throw error;
    }
  }
}

// An inclusive range of an object of `size` bytes, its end clipped to the object as S3 does.
function satisfiable(start: number, end: number, size: number): ByteRange {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || start >= size) {
    throw new RangeError(`range ${start}-${end} not satisfiable for an object of ${size} bytes`);
  }
  return { start, end: Math.min(end, size - 1) };
}

function errorCode(error: unknown): unknown {
  return error instanceof Error ? (error as { code?: unknown }).code : undefined;
}

function isAbsent(error: unknown): boolean {
  const code = errorCode(error);
  return typeof code === 'string' && ABSENT_CODES.has(code);
}

// One place where the file system's errors become ours.
async function disk<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw translateDiskError(error);
  }
}

function translateDiskError(error: unknown): unknown {
  const code = errorCode(error);
  return typeof code === 'string' && UNAVAILABLE_CODES.has(code)
    ? new DependencyUnavailableError('storage', error)
    : error;
}
