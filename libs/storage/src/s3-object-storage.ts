import http from 'node:http';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListPartsCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { AppConfig } from '@koodrive/config';
import { DependencyUnavailableError } from '@koodrive/errors';
import { timeDependency } from '@koodrive/metrics';
import {
  type ByteRange,
  InvalidPartsError,
  ObjectNotFoundError,
  type ObjectHead,
  type ObjectStorage,
  type ReadIntoOptions,
  type StoredPart,
  UploadNotFoundError,
} from './object-storage.js';
import type { PartBody } from './part-body.js';
import { putPart } from './part-put.js';
import { readRange } from './range-read.js';
import { S3Presigner } from './s3-presigner.js';
import { s3Span } from './s3-span.js';
import { StoreStatusError } from './store-answer.js';

// RGW answers calls on an unknown or finished multipart upload with NoSuchKey, AWS with NoSuchUpload
const NOT_FOUND_UPLOAD = new Set(['NoSuchUpload', 'NoSuchKey']);
const NOT_FOUND_OBJECT = new Set(['NoSuchKey', 'NotFound']);
const INVALID_PARTS = new Set(['InvalidPart', 'InvalidPartOrder', 'EntityTooSmall']);
// the service's own GETs and PUTs start as soon as they are signed: a URL only has to outlive its
// retries (a store checks it when a request starts, however long the body then takes)
const OWN_URL_SECONDS = 300;
// a read-back range this large is received in place (socket-reads.ts); smaller ones are copied out
// of kept-alive connections
const IN_PLACE_FROM_BYTES = 1024 * 1024;
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

export interface StorageTimeouts {
  // connecting; no progress on a transfer (a part PUT, a read-back GET)
  readonly connectMs: number;
  readonly idleMs: number;
  // one SDK call, its retry included (the deadline aborts whatever attempt is running)
  readonly requestMs: number;
  // one CompleteMultipartUpload, its retry included
  readonly combineMs: number;
}

const DEFAULT_TIMEOUTS: StorageTimeouts = { connectMs: 1_000, idleMs: 3_000, requestMs: 3_000, combineMs: 60_000 };

export class S3ObjectStorage implements ObjectStorage {
  readonly presignsParts = true;
  private readonly client: S3Client;
  private readonly combiner: S3Client;
  // part URLs, for the endpoint clients reach the store at
  private readonly partSigner: S3Presigner;
  // the service's own GETs (read-back) and PUTs (parts through it), for its own endpoint
  private readonly ownSigner: S3Presigner;
  // the connections small read-backs go on
  private readonly reads = new http.Agent({ keepAlive: true });
  private readonly bucket: string;

  private readonly timeouts: StorageTimeouts;

  // `timeouts`: connecting, no progress on a transfer (a part PUT or a read-back of any size goes on
  // while bytes flow), and one deadline for each SDK call: the SDK tries a call twice (a 500, a reset
  // connection), both within the deadline, so a store that accepts and never answers costs a
  // request requestMs, not twice an attempt's bound.
  constructor(config: AppConfig['s3'], timeouts: StorageTimeouts = DEFAULT_TIMEOUTS) {
    this.timeouts = timeouts;
    const base: S3ClientConfig = {
      maxAttempts: 2,
      requestHandler: {
        connectionTimeout: timeouts.connectMs,
        socketTimeout: Math.min(timeouts.idleMs, timeouts.requestMs),
      },
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      // RGW has no x-amz-checksum-*; and a presigned part URL must need nothing but a plain PUT
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(config.accessKeyId !== undefined && config.secretAccessKey !== undefined
        ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
        : {}),
    };
    if (config.endpoint === undefined) {
      throw new Error('S3ObjectStorage needs S3_ENDPOINT');
    }
    this.bucket = config.bucket;
    this.client = new S3Client({ ...base, endpoint: config.endpoint });
    // the store may say nothing for a while as it puts a large object together: the combine's only
    // bound is its own deadline
    this.combiner = new S3Client({
      ...base,
      endpoint: config.endpoint,
      requestHandler: { connectionTimeout: timeouts.connectMs, socketTimeout: timeouts.combineMs },
    });
    // the SDK's credentials as they are now (static, or its provider chain's, refreshed as they
    // expire) and its SHA-256
    const signer = (endpoint: string): S3Presigner =>
      new S3Presigner({
        endpoint,
        bucket: config.bucket,
        region: config.region,
        forcePathStyle: config.forcePathStyle,
        credentials: this.client.config.credentials,
        sha256: this.client.config.sha256,
      });
    this.ownSigner = signer(config.endpoint);
    // clients may reach the store under another name than the service does
    this.partSigner = signer(config.publicEndpoint ?? config.endpoint);
  }

  async createMultipartUpload(key: string, metadata: Readonly<Record<string, string>>): Promise<string> {
    const out = await this.call('CreateMultipartUpload', (abortSignal) =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, Metadata: { ...metadata } }), {
        abortSignal,
      }),
    );
    if (out.UploadId === undefined) {
      throw new Error('CreateMultipartUpload returned no UploadId');
    }
    return out.UploadId;
  }

  presignUploadParts(
    key: string,
    uploadId: string,
    partNumbers: readonly number[],
    expiresInSeconds: number,
  ): Promise<string[]> {
    return this.partSigner.presignUploadParts(key, uploadId, partNumbers, expiresInSeconds);
  }

  // A presigned UploadPart on the lean data path (part-put.ts): the body's chunks, lent from the
  // buffers the request is read into, go to the socket as they come. Not retried, as the SDK does
  // not retry a streaming body either.
  async uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: PartBody,
    size: number,
    signal?: AbortSignal,
  ): Promise<string> {
    const url = new URL(
      await this.ownSigner.presign({
        method: 'PUT',
        key,
        query: { partNumber: String(partNumber), uploadId, 'x-id': 'UploadPart' },
        expiresInSeconds: OWN_URL_SECONDS,
      }),
    );
    const attributes = {
      'aws.s3.bucket': this.bucket,
      'server.address': url.hostname,
      'http.request.header.content_length': size,
    };
    try {
      return await s3Span('UploadPart', attributes, () =>
        timeDependency('s3', 'UploadPart', () =>
          putPart(url, body, size, {
            signal,
            connectTimeoutMs: this.timeouts.connectMs,
            idleTimeoutMs: this.timeouts.idleMs,
          }),
        ),
      );
    } catch (error) {
      throw translatePutError(error);
    }
  }

  async listParts(key: string, uploadId: string): Promise<StoredPart[]> {
    const parts: StoredPart[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await this.call(
        'ListParts',
        (abortSignal) =>
          this.client.send(
            new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }),
            { abortSignal },
          ),
        true,
      );
      for (const part of page.Parts ?? []) {
        if (part.PartNumber !== undefined && part.ETag !== undefined) {
          parts.push({ partNumber: part.PartNumber, size: part.Size ?? 0, etag: part.ETag });
        }
      }
      if (page.IsTruncated !== true || page.NextPartNumberMarker === undefined) {
        break;
      }
      marker = page.NextPartNumberMarker;
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: readonly StoredPart[]): Promise<void> {
    await this.call(
      'CompleteMultipartUpload',
      (abortSignal) =>
        this.combiner.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
          }),
          { abortSignal },
        ),
      true,
      this.timeouts.combineMs,
    );
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.call(
        'AbortMultipartUpload',
        (abortSignal) =>
          this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }), {
            abortSignal,
          }),
        true,
      );
    } catch (error) {
      if (!(error instanceof UploadNotFoundError)) {
        throw error;
      }
    }
  }

  async headObject(key: string): Promise<ObjectHead | null> {
    try {
      const out = await this.call('HeadObject', (abortSignal) =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }),
      );
      return { size: out.ContentLength ?? 0, metadata: out.Metadata ?? {} };
    } catch (error) {
      if (error instanceof S3ServiceException && NOT_FOUND_OBJECT.has(error.name)) {
        return null;
      }
      throw error;
    }
  }

  async readObject(key: string, range?: ByteRange): Promise<Readable> {
    return Readable.from(
      await this.getObject(key, range === undefined ? undefined : `bytes=${range.start}-${range.end}`),
    );
  }

  // A presigned GET on the lean data path (range-read.ts): the read-back's hot path, a large range
  // received straight into `into`, where node's HTTP client under the SDK costs the reader a core.
  async readInto(key: string, start: number, into: Buffer, options: ReadIntoOptions = {}): Promise<void> {
    const url = new URL(
      await this.ownSigner.presign({
        method: 'GET',
        key,
        query: { 'x-id': 'GetObject' },
        expiresInSeconds: OWN_URL_SECONDS,
      }),
    );
    // with the range it asked for
    const attributes = {
      'aws.s3.bucket': this.bucket,
      'server.address': url.hostname,
      'http.request.header.range': `bytes=${start}-${start + into.length - 1}`,
    };
    try {
      await s3Span('GetObject', attributes, () =>
        timeDependency('s3', 'GetObject', () =>
          readRange(url, start, into, {
            ...options,
            idleTimeoutMs: this.timeouts.idleMs,
            agent: this.reads,
            inPlaceFrom: IN_PLACE_FROM_BYTES,
          }),
        ),
      );
    } catch (error) {
      throw translateReadError(error);
    }
  }

  // The object's body (or a range of it), checked against its Content-Length as it streams.
  private async getObject(key: string, range?: string): Promise<AsyncGenerator<Buffer>> {
    let out;
    try {
      // the deadline is the answer's head; the body streams on under the idle bound
      out = await this.call('GetObject', (abortSignal) =>
        this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range }), { abortSignal }),
      );
    } catch (error) {
      throw error instanceof S3ServiceException && NOT_FOUND_OBJECT.has(error.name)
        ? new ObjectNotFoundError(error)
        : error;
    }
    if (out.Body === undefined) {
      throw new Error('GetObject returned no body');
    }
    return checkedBody(out.Body as Readable, out.ContentLength);
  }

  async deleteObject(key: string): Promise<void> {
    await this.call('DeleteObject', (abortSignal) =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }),
    );
  }

  async ping(): Promise<void> {
    await this.call('HeadBucket', (abortSignal) =>
      this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal }),
    );
  }

  destroy(): void {
    this.client.destroy();
    this.combiner.destroy();
    this.reads.destroy();
  }

  // One place where S3's errors become ours, and where each call gets its deadline (`deadlineMs`,
  // its attempts included), lifted once the SDK has the answer (a GetObject's body then streams
  // under the idle bound).
  private async call<Output>(
    name: string,
    operation: (abortSignal: AbortSignal) => Promise<Output>,
    onUpload = false,
    deadlineMs = this.timeouts.requestMs,
  ): Promise<Output> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new StorageDeadlineError(name, deadlineMs)), deadlineMs);
    try {
      return await s3Span(name, { 'aws.s3.bucket': this.bucket }, () =>
        timeDependency('s3', name, () => operation(deadline.signal)),
      );
    } catch (error) {
      throw translateS3Error(deadline.signal.aborted ? deadline.signal.reason : error, onUpload);
    } finally {
      clearTimeout(timer);
    }
  }
}

// A storage call past its deadline (STORAGE_REQUEST_TIMEOUT_MS, STORAGE_COMBINE_TIMEOUT_MS): the
// store is unavailable.
export class StorageDeadlineError extends Error {
  constructor(call: string, ms: number) {
    super(`${call}: no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

// A part PUT's answer: the upload gone (NoSuchUpload; NoSuchKey from RGW), the store failing (5xx),
// else as the SDK's errors are.
function translatePutError(error: unknown): unknown {
  if (error instanceof StoreStatusError) {
    if (error.code !== undefined && NOT_FOUND_UPLOAD.has(error.code)) {
      return new UploadNotFoundError(error);
    }
    return error.status >= 500 ? new DependencyUnavailableError('storage', error) : error;
  }
  return translateS3Error(error, true);
}

function translateReadError(error: unknown): unknown {
  if (error instanceof StoreStatusError) {
    return error.status === 404
      ? new ObjectNotFoundError(error)
      : error.status >= 500
        ? new DependencyUnavailableError('storage', error)
        : error;
  }
  return translateS3Error(error, false);
}

// onUpload: the call addressed a multipart upload (its "not found" means the upload is gone).
export function translateS3Error(error: unknown, onUpload: boolean): unknown {
  if (error instanceof S3ServiceException) {
    if (onUpload && NOT_FOUND_UPLOAD.has(error.name)) {
      return new UploadNotFoundError(error);
    }
    if (INVALID_PARTS.has(error.name)) {
      return new InvalidPartsError(error);
    }
    if (error.$metadata.httpStatusCode !== undefined && error.$metadata.httpStatusCode >= 500) {
      return new DependencyUnavailableError('storage', error);
    }
    return error;
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if ((typeof code === 'string' && NETWORK_CODES.has(code)) || error.name === 'TimeoutError') {
      return new DependencyUnavailableError('storage', error);
    }
  }
  return error;
}

// The object's bytes as the store sends them. A connection lost part way, or a body shorter than
// the Content-Length the store announced, is the store being unavailable: never a short object,
// which a caller could mistake for a corrupt file.
async function* checkedBody(body: Readable, contentLength: number | undefined): AsyncGenerator<Buffer> {
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  } catch (error) {
    throw new DependencyUnavailableError('storage', error);
  }
  if (contentLength !== undefined && bytes !== contentLength) {
    throw new DependencyUnavailableError('storage', new Error(`read ${bytes} of ${contentLength} bytes`));
  }
}
