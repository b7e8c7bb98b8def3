// A part PUT to the service's own part URL: streamed to storage's UploadPart as it arrives (never
// buffered) and hashed on the way from the part's hashCtx, so the part's SHA-256 end state is
// known the moment the store has the bytes. Parts may arrive in any order and at once; one part
// has at most one PUT in flight: the PUT holds the part's put lease (file_parts.put_seq), which
// clears what an earlier PUT recorded, and records what it hashed under the same put_seq. A PUT
// that cannot renew its lease stops its upload before the lease ends, so no PUT of the part can
// land in storage after a later one recorded what it stored.
import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { type PartPut, PartPutRepository, type UploadedPartHash } from '@koodrive/database';
import { ApiCode, ApiException, DependencyUnavailableError } from '@koodrive/errors';
import { encodeHashCtx, Sha256State } from '@koodrive/hashing';
import { partBytesReceived } from '@koodrive/metrics';
import { OBJECT_STORAGE, type ObjectStorage, type PartBody, UploadNotFoundError } from '@koodrive/storage';
import { SHA256_BLOCK } from '@koodrive/limits';
import { partStartState } from '@koodrive/verification';
import { verifyPartUrl } from './part-url.js';
import { type RequestBody, requestBody } from './request-body.js';

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
  private readonly logger = new Logger(PartUploadService.name);
  // part PUTs in flight on this replica, by the file's owner (PART_PUTS_PER_USER each)
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly puts: PartPutRepository,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async put(target: PartUploadTarget, body: IncomingMessage): Promise<StoredPartAnswer> {
    this.checkUrl(target);
    const put = await this.begin(target);
    const owner = put.file.ownerId;
    const running = this.inFlight.get(owner) ?? 0;
    const streaming = { started: false };
    let stored: { etag: string; hash: UploadedPartHash | null };
    try {
      if (running >= this.config.http.partPutsPerUser) {
        throw new ApiException(ApiCode.TooManyRequests, {
          detail: `at most ${this.config.http.partPutsPerUser} part uploads at once`,
          retryAfterSeconds: 1,
        });
      }
      this.inFlight.set(owner, running + 1);
      streaming.started = true;
      stored = await this.store(put, body).finally(() => this.release(owner));
    } catch (error) {
      await this.puts.endPartPut(put.file.id, put.part.partNumber, put.seq, streaming.started).catch(() => undefined);
      throw error;
    }
    if (!(await this.puts.recordPartPut(put.file.id, put.part.partNumber, put.seq, stored.hash))) {
      // our bytes may be in storage, but what the part records is no longer about them
      await this.puts.forgetPartHash(put.file.id, put.part.partNumber);
      throw ApiException.notOpenForUpload();
    }
    return { partNumber: put.part.partNumber, etag: stored.etag, size: put.part.partSize };
  }

  // The part's put lease for this PUT, or the contract's answer why not.
  private async begin(target: PartUploadTarget): Promise<PartPut> {
    const size = /^\d{1,13}$/.test(target.contentLength ?? '') ? Number(target.contentLength) : -1;
    const put = await this.puts.beginPartPut(
      target.fileId,
      target.partNumber,
      size,
      this.config.upload.partPutLeaseSeconds,
    );
    if (put === 'not-open') {
      throw ApiException.taskNotFound();
    }
    if (put === 'busy') {
      throw new ApiException(ApiCode.StatusChangeFailed, {
        detail: 'another PUT of this part is in progress; retry once it has finished',
      });
    }
    if ('wrongSize' in put) {
      throw ApiException.invalidParameter(`Content-Length: must be the part's size, ${put.wrongSize}`);
    }
    return put;
  }

  private release(owner: string): void {
    const left = (this.inFlight.get(owner) ?? 1) - 1;
    if (left === 0) {
      this.inFlight.delete(owner);
    } else {
      this.inFlight.set(owner, left);
    }
  }

  private checkUrl(target: PartUploadTarget): void {
    const { partUrlSecret } = this.config.upload;
    const verdict = verifyPartUrl(partUrlSecret, target.fileId, target.partNumber, target.expires, target.signature);
    if (verdict !== 'valid') {
      throw new ApiException(ApiCode.NoPermission, {
        detail:
          verdict === 'expired' ? 'the part URL has expired; ask uploadUrl for a new one' : 'the part URL is not valid',
      });
    }
  }

  // Streams the body into the part under the put lease and answers its ETag and what was hashed of
  // it (null for a part with no known start state: it is read back at complete).
  private async store(
    put: PartPut,
    request: IncomingMessage,
  ): Promise<{ etag: string; hash: UploadedPartHash | null }> {
    const { file, part } = put;
    const start = partStartState(part);
    const hash = start === null ? null : Sha256State.from(start);
    const counted = { bytes: 0 };
    const body = requestBody(request, part.partSize);
    // each chunk is hashed as storage takes it, before it is sent on (and its buffer given back)
    const hashed: PartBody = {
      flow: (take) =>
        body.flow((chunk, done) => {
          hash?.update(chunk);
          counted.bytes += chunk.length;
          take(chunk, done);
        }),
      stop: () => body.stop(),
    };
    const lease = this.keepLease(put);
    let etag: string;
    try {
      etag = await this.storage.uploadPart(
        file.storageKey,
        file.uploadId,
        part.partNumber,
        hashed,
        part.partSize,
        lease.signal,
      );
    } catch (error) {
      // the rest of the body stays unread, dropped with the connection once the answer is sent
      body.stop();
      throw this.uploadFailure(error, body, lease.signal);
    } finally {
      lease.stop();
      partBytesReceived.inc(counted.bytes);
    }
    if (counted.bytes !== part.partSize) {
      throw ApiException.invalidParameter(`body: ${counted.bytes} bytes, the part's size is ${part.partSize}`);
    }
    if (hash === null || start === null) {
      return { etag, hash: null };
    }
    const end = start.offset + part.partSize;
    return {
      etag,
      hash: {
        etag,
        size: part.partSize,
        hashedFrom: encodeHashCtx(start),
        hashedTo: end % SHA256_BLOCK === 0 ? encodeHashCtx(hash.state()) : null,
        sha256: end === file.length ? hash.hexDigest() : null,
      },
    };
  }

  private uploadFailure(error: unknown, body: RequestBody, lease: AbortSignal): unknown {
    if (lease.aborted) {
      return new ApiException(ApiCode.StatusChangeFailed, { detail: 'the part upload lost its lease; retry' });
    }
    if (error instanceof UploadNotFoundError) {
      return ApiException.notOpenForUpload();
    }
    // the store failing or answering an error part way leaves the body unread, not cut short
    if (!body.complete && !(error instanceof DependencyUnavailableError && !body.cut)) {
      return new ApiException(ApiCode.RequestError, { detail: "the part's body ended early", cause: error });
    }
    return error;
  }

  // Renews the put lease every third of it while the upload runs; aborts the upload when a renewal
  // is refused or the lease is about to end unrenewed (the database unreachable, the process
  // starved), so this PUT stops sending before another may take the part over. The local deadline
  // counts from when a renewal was sent, the database's lease from when it ran: never later.
  private keepLease(put: PartPut): { signal: AbortSignal; stop: () => void } {
    const leaseMs = this.config.upload.partPutLeaseSeconds * 1000;
    const controller = new AbortController();
    const expireAt = (from: number): NodeJS.Timeout =>
      setTimeout(() => controller.abort(), from + leaseMs - leaseMs / 6 - Date.now());
    let deadline = expireAt(Date.now());
    const renew = setInterval(() => {
      const sentAt = Date.now();
      this.puts
        .renewPartPut(put.file.id, put.part.partNumber, put.seq, leaseMs / 1000)
        .then((held) => {
          if (!held) {
            controller.abort();
          } else if (!controller.signal.aborted) {
            clearTimeout(deadline);
            deadline = expireAt(sentAt);
          }
        })
        .catch((error: unknown) => {
          this.logger.warn({ msg: 'could not renew a part put lease', fileId: put.file.id, err: error });
        });
    }, leaseMs / 3);
    return {
      signal: controller.signal,
      // the PUT is over, answered or failed: an upload to storage still running (the client's
      // body failed first) is stopped with it, never left to the store's own timeouts
      stop: () => {
        clearInterval(renew);
        clearTimeout(deadline);
        controller.abort();
      },
    };
  }
}
