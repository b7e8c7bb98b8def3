// A part PUT to the service's own part URL: streamed to S3's UploadPart as it arrives (never
// buffered) and hashed on the way from the part's hashCtx, so the part's SHA-256 end state is
// known the moment the store has the bytes. Parts may arrive in any order and at once.
import { Transform, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { FileRepository } from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';
import { encodeHashCtx, Sha256State } from '@koodrive/hashing';
import { partBytesReceived } from '@koodrive/metrics';
import { OBJECT_STORAGE, type ObjectStorage, UploadNotFoundError } from '@koodrive/storage';
import { SHA256_BLOCK } from '@koodrive/limits';
import { partStartState } from '../files/hash-chain.js';
import { verifyPartUrl } from './part-url.js';

export interface PartUploadTarget {
  readonly fileId: string;
  readonly partNumber: number;
  readonly expires: unknown;
  readonly signature: unknown;
  readonly contentLength: string | undefined;
}

export interface StoredPartAnswer {
  readonly partNumber: number;
  readonly etag: string;
  readonly size: number;
}

@Injectable()
export class PartUploadService {
  constructor(
    private readonly files: FileRepository,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async put(target: PartUploadTarget, body: IncomingMessage): Promise<StoredPartAnswer> {
    const verdict = verifyPartUrl(
      this.config.upload.partUrlSecret,
      target.fileId,
      target.partNumber,
      target.expires,
      target.signature,
    );
    if (verdict !== 'valid') {
      throw new ApiException(ApiCode.NoPermission, {
        detail:
          verdict === 'expired' ? 'the part URL has expired; ask uploadUrl for a new one' : 'the part URL is not valid',
      });
    }
    const found = await this.files.findOpenPart(target.fileId, target.partNumber);
    const uploadId = found?.file.uploadId;
    if (found === null || uploadId === null || uploadId === undefined) {
      throw ApiException.taskNotFound();
    }
    const { file, part } = found;
    if (target.contentLength === undefined || target.contentLength !== String(part.partSize)) {
      throw ApiException.invalidParameter(`Content-Length: must be the part's size, ${part.partSize}`);
    }
    const start = partStartState(part);
    const hash = start === null ? null : Sha256State.from(start);
    const counted = { bytes: 0 };
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
        hash?.update(chunk);
        counted.bytes += chunk.length;
        done(null, chunk);
      },
    });
    // the client going away fails the upload to S3 (it gets fewer bytes than announced); the
    // store failing leaves the rest of the body unread, dropped by Node once the answer is sent
    body.on('error', (error) => hashing.destroy(error));
    // its error reaches us as the upload's failure
    hashing.on('error', () => undefined);
    body.pipe(hashing);
    let etag: string;
    try {
      [etag] = await Promise.all([
        this.storage.uploadPart(file.storageKey, uploadId, part.partNumber, hashing, part.partSize),
        finished(body),
      ]);
    } catch (error) {
      body.unpipe(hashing);
      hashing.destroy();
      if (!body.complete) {
        throw new ApiException(ApiCode.RequestError, { detail: "the part's body ended early", cause: error });
      }
      if (error instanceof UploadNotFoundError) {
        throw ApiException.notOpenForUpload();
      }
      throw error;
    } finally {
      partBytesReceived.inc(counted.bytes);
    }
    if (counted.bytes !== part.partSize) {
      throw ApiException.invalidParameter(`body: ${counted.bytes} bytes, the part's size is ${part.partSize}`);
    }
    if (hash !== null && start !== null) {
      const end = start.offset + part.partSize;
      const recorded = await this.files.recordUploadedPart(file.id, part.partNumber, {
        etag,
        size: part.partSize,
        hashedFrom: encodeHashCtx(start),
        hashedTo: end % SHA256_BLOCK === 0 ? encodeHashCtx(hash.state()) : null,
        sha256: end === file.length ? hash.hexDigest() : null,
      });
      if (!recorded) {
        throw ApiException.notOpenForUpload();
      }
    }
    return { partNumber: part.partNumber, etag, size: part.partSize };
  }
}
