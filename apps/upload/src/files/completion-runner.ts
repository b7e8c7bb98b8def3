// The work of one completion claim: combine the parts, prove the combined object's SHA-256,
// record the outcome. Both a complete request and the reconciler run it, always under a claim
// they hold; every write names that claim, so a worker whose lease was taken over changes nothing
// (it gets ClaimLostError). No transaction spans a storage call.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { type Attributes, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { CompletionRepository, type PartRecord, UploadTaskRepository, type UploadFile } from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';
import {
  InvalidPartsError,
  OBJECT_STORAGE,
  ObjectNotFoundError,
  type ObjectStorage,
  UploadNotFoundError,
} from '@koodrive/storage';
import { bytesVerified, completeOutcomes, verificationDuration, verificationsByMethod } from '@koodrive/metrics';
import { activeTraceId } from '@koodrive/telemetry';
import { UPLOAD_TOKEN_METADATA } from './file-id.js';
import {
  type Digest,
  digestFromPartChain,
  rangesFromHashCtx,
  type ReadInto,
  sha256OfHashedRanges,
  sha256OfRanges,
  sha256OfStream,
} from '@koodrive/verification';
import { describeIncompleteParts } from './part-rules.js';

export interface CompleteUploadResult {
  readonly fileId: string;
  readonly sha256: string;
  readonly length: number;
}

// Our claim was taken over (our lease ran out): what we were doing no longer counts.
export class ClaimLostError extends Error {
  constructor(readonly fileId: string) {
    super(`completion claim on ${fileId} was taken over`);
    this.name = 'ClaimLostError';
  }
}

// The parts read back do not chain: some part's bytes are not what its hashCtx says follows.
class BrokenChainError extends Error {}

const tracer = trace.getTracer('koodrive-upload');

// ranged GETs in flight per part of the parallel-by-part read-back: one received while one is hashed
const PART_WINDOW = 2;

// One phase of a completion as a span; a dependency's failure is recorded on it as an error
// (an outcome such as a missing part is a result, not an error).
function phase<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      if (!(error instanceof ApiException)) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      }
      throw error;
    } finally {
      span.end();
    }
  });
}

@Injectable()
export class CompletionRunner {
  private readonly logger = new Logger(CompletionRunner.name);

  constructor(
    private readonly tasks: UploadTaskRepository,
    private readonly completions: CompletionRepository,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  // Runs the completion `file.claim` holds. Answers the result, or throws: ApiException for an
  // outcome recorded on the file, ClaimLostError, or a dependency's error (the lease is then
  // ended early, so a retry or the reconciler can take over at once).
  // `by` names who runs it, for the outcome metric.
  async run(file: UploadFile, by: 'request' | 'reconciler'): Promise<CompleteUploadResult> {
    return phase(
      'koodrive.complete',
      { 'koodrive.file_id': file.id, 'koodrive.bytes': file.length, 'koodrive.claim': file.claim, 'koodrive.by': by },
      async (span) => {
        try {
          const result = await this.runClaimed(file);
          completeOutcomes.inc({ code: ApiCode.Success, by });
          span.setAttribute('koodrive.outcome', ApiCode.Success);
          return result;
        } catch (error) {
          const code =
            error instanceof ApiException
              ? error.code
              : error instanceof ClaimLostError
                ? 'claim_lost'
                : ApiCode.InternalError;
          completeOutcomes.inc({ code, by });
          span.setAttribute('koodrive.outcome', code);
          throw error;
        }
      },
    );
  }

  private async runClaimed(file: UploadFile): Promise<CompleteUploadResult> {
    const leaseSeconds = this.config.upload.completeLeaseSeconds;
    const heartbeat = setInterval(
      () => {
        this.completions.renewLease(file.id, file.claim, leaseSeconds).catch((error: unknown) => {
          this.logger.warn({ msg: 'could not renew completion lease', fileId: file.id, err: error });
        });
      },
      (leaseSeconds * 1000) / 3,
    );
    try {
      // read once: the hash chain (before combining) and the part-by-part read-back both need them
      const plans = await this.tasks.listPartPlans(file.id);
      if (file.combinedAt !== null) {
        // combined under an earlier claim: the object may have changed since, so it is looked at first
        return await this.verify(file, file.chainSha256, plans, 'look-first');
      }
      // combined now from parts that add up to the file's length (or found whole, by a HEAD)
      return await this.verify(file, await this.combine(file, plans), plans, 'just-combined');
    } catch (error) {
      if (!(error instanceof ApiException) && !(error instanceof ClaimLostError)) {
        await this.completions.abandonClaim(file.id, file.claim).catch(() => undefined);
      }
      throw error;
    } finally {
      clearInterval(heartbeat);
    }
  }

  // Lists the parts, checks them, and combines them into the object. Answers the digest the parts'
  // hash chain proves when every part was hashed by the service (null: verify reads the object).
  private async combine(file: UploadFile, plans: readonly PartRecord[]): Promise<string | null> {
    if (file.uploadId === null) {
      throw new Error(`file ${file.id} is open but has no multipart upload`);
    }
    let parts;
    try {
      const uploadId = file.uploadId;
      parts = await phase('koodrive.list_parts', { 'koodrive.file_id': file.id }, async (span) => {
        const listed = await this.storage.listParts(file.storageKey, uploadId);
        span.setAttribute('koodrive.parts', listed.length);
        return listed;
      });
    } catch (error) {
      if (error instanceof UploadNotFoundError) {
        return this.settleVanishedUpload(file);
      }
      throw error;
    }
    const problem = describeIncompleteParts(
      parts,
      file.length,
      plans.map((plan) => plan.partNumber),
    );
    if (problem !== null) {
      return this.releaseIncomplete(file, problem);
    }
    // O(parts): the chain of the states the service recorded as it streamed each part
    const chain = digestFromPartChain(parts, plans);
    if (chain.kind === 'broken') {
      // nothing combined yet: the task stays open for the part to be uploaded again
      return this.releaseIncomplete(file, chain.detail);
    }
    if (chain.kind === 'proven' && file.expectedSha256 !== null && chain.sha256 !== file.expectedSha256) {
      return this.failIntegrity(file, 'sha256 of the uploaded parts does not match');
    }
    try {
      const uploadId = file.uploadId;
      await phase(
        'koodrive.combine',
        { 'koodrive.file_id': file.id, 'koodrive.parts': parts.length, 'koodrive.bytes': file.length },
        () => this.storage.completeMultipartUpload(file.storageKey, uploadId, parts),
      );
    } catch (error) {
      if (error instanceof UploadNotFoundError) {
        return this.settleVanishedUpload(file);
      }
      if (error instanceof InvalidPartsError) {
        return this.releaseIncomplete(file, 'the storage refused the parts; upload them again');
      }
      throw error;
    }
    // recorded before verifying: a completion cut short after this resumes without combining again
    const chainSha256 = chain.kind === 'proven' ? chain.sha256 : null;
    await this.fenced(file, this.completions.markCombined(file.id, file.claim, chainSha256));
    return chainSha256;
  }

  // The parts cannot be combined as they are: 13000402 with `detail`, recorded, and the task left
  // open (nothing combined) for the client to upload what is missing or wrong.
  private async releaseIncomplete(file: UploadFile, detail: string): Promise<never> {
    await this.fenced(file, this.completions.releaseWithResult(file.id, file.claim, ApiCode.UploadIncomplete, detail));
    throw new ApiException(ApiCode.UploadIncomplete, { detail });
  }

  // The multipart upload is gone: combined by an earlier claim that could not record it, or
  // purged by the storage. Only our own object (our token, the right size) counts as combined,
  // never "an object exists at the key".
  private async settleVanishedUpload(file: UploadFile): Promise<null> {
    const head = await this.storage.headObject(file.storageKey);
    if (head?.metadata[UPLOAD_TOKEN_METADATA] === file.uploadToken && head.size === file.length) {
      await this.fenced(file, this.completions.markCombined(file.id, file.claim));
      return null;
    }
    await this.fenced(
      file,
      this.completions.markFailed(
        file.id,
        file.claim,
        ApiCode.TaskNotFound,
        'the uploaded parts are gone from storage',
      ),
    );
    throw ApiException.taskNotFound();
  }

  // Proves the combined object is the file: from the parts' hash chain when it is known (no byte
  // read), else by reading the object back.
  // `object`: just combined from parts the list showed adding up to the file's length, or combined
  // before (then its size is looked at first: no need to read a wrong-sized object to know).
  private async verify(
    file: UploadFile,
    chainSha256: string | null,
    plans: readonly PartRecord[],
    object: 'just-combined' | 'look-first',
  ): Promise<CompleteUploadResult> {
    const started = performance.now();
    let read: { size: number; digest: Digest | undefined; method?: string };
    try {
      read = await phase('koodrive.verify', { 'koodrive.file_id': file.id }, async (span) => {
        if (object === 'look-first') {
          const head = await this.storage.headObject(file.storageKey);
          if (head === null) {
            throw new ObjectNotFoundError(undefined);
          }
          if (head.size !== file.length) {
            return { size: head.size, digest: undefined };
          }
        }
        const { method, digest } =
          chainSha256 !== null
            ? { method: 'hash_chain', digest: { sha256: chainSha256, bytes: file.length } }
            : await this.readBack(file, plans);
        span.setAttributes({ 'koodrive.bytes': digest.bytes, 'koodrive.verify_method': method });
        verificationsByMethod.inc({ method });
        return { size: digest.bytes, digest, method };
      });
    } catch (error) {
      if (error instanceof BrokenChainError) {
        return this.failIntegrity(file, error.message);
      }
      if (error instanceof ObjectNotFoundError) {
        // combined once, deleted since behind our back: nothing left to complete
        const detail = 'the combined file is gone from storage';
        await this.fenced(file, this.completions.markFailed(file.id, file.claim, ApiCode.TaskNotFound, detail));
        throw ApiException.taskNotFound();
      }
      throw error;
    }
    const traceId = activeTraceId();
    verificationDuration.observe({
      value: (performance.now() - started) / 1000,
      exemplarLabels: traceId === undefined ? {} : { traceId },
    });
    const { size, digest, method } = read;
    if (digest === undefined || method === undefined || size !== file.length) {
      return this.failIntegrity(file, `the combined file holds ${size} bytes, expected ${file.length}`);
    }
    if (file.expectedSha256 !== null && digest.sha256 !== file.expectedSha256) {
      return this.failIntegrity(file, 'sha256 of the combined file does not match');
    }
    await this.fenced(
      file,
      this.completions.markCompleted(
        file.id,
        file.claim,
        { sha256: digest.sha256, by: method },
        { traceId, xTraceid: file.claimTraceid },
      ),
    );
    return { fileId: file.id, sha256: digest.sha256, length: file.length };
  }

  // Reads the combined object back and hashes it. A parallel-mode file (every part's hashCtx
  // known) is hashed part by part from those states on all cores, and the chain checked; any other
  // file streams through one SHA-256: one GET (VERIFY_WINDOW 0) or ranged GETs in flight.
  private async readBack(file: UploadFile, plans: readonly PartRecord[]): Promise<{ method: string; digest: Digest }> {
    const read = await this.readBackBy(file, plans);
    bytesVerified.inc(read.digest.bytes);
    return read;
  }

  private async readBackBy(
    file: UploadFile,
    plans: readonly PartRecord[],
  ): Promise<{ method: string; digest: Digest }> {
    const ranges = rangesFromHashCtx(plans, file.length);
    if (ranges !== null && ranges.length > 1) {
      const outcome = await sha256OfHashedRanges(ranges, this.readerOf(file), {
        ...this.config.verify,
        concurrency: this.config.verify.parallelParts,
        window: PART_WINDOW,
      });
      if (outcome.kind === 'broken') {
        throw new BrokenChainError(outcome.detail);
      }
      if (outcome.kind === 'proven') {
        return { method: 'parallel_parts', digest: { sha256: outcome.sha256, bytes: file.length } };
      }
    }
    if (this.config.verify.window === 0) {
      return { method: 'stream', digest: await sha256OfStream(await this.storage.readObject(file.storageKey)) };
    }
    const digest = await sha256OfRanges(this.readerOf(file), file.length, this.config.verify);
    return { method: 'pipelined', digest };
  }

  private readerOf(file: UploadFile): ReadInto {
    return (start, into, onData, signal) => this.storage.readInto(file.storageKey, start, into, { onData, signal });
  }

  // The file is not what the client says it is: failed for good, its object (or its uploaded
  // parts, when they were never combined) deleted.
  private async failIntegrity(file: UploadFile, detail: string): Promise<never> {
    // record the failure first: storage is only cleaned once no claim can complete the file
    await this.fenced(file, this.completions.markFailed(file.id, file.claim, ApiCode.UploadIncomplete, detail));
    // once combined, the multipart upload is gone and aborting it changes nothing
    const cleanUp =
      file.uploadId === null ? Promise.resolve() : this.storage.abortMultipartUpload(file.storageKey, file.uploadId);
    await Promise.all([cleanUp, this.storage.deleteObject(file.storageKey)]).catch((error: unknown) => {
      this.logger.warn({ msg: 'could not delete the storage of a failed file', fileId: file.id, err: error });
    });
    throw ApiException.integrityFailed(detail);
  }

  private async fenced(file: UploadFile, write: Promise<boolean>): Promise<void> {
    if (!(await write)) {
      throw new ClaimLostError(file.id);
    }
  }
}
