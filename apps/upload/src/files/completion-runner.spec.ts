// CompletionRunner on the embedded parts (PGlite, the local-disk store): the branches of a claimed
// completion the end-to-end tests cannot reach cheaply, each checked on what it recorded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UploadedPartHash, UploadFile } from '@koodrive/database';
import { ApiCode, DependencyUnavailableError } from '@koodrive/errors';
import { encodeHashCtx, type HashState, SHA256_INITIAL_STATE, Sha256State } from '@koodrive/hashing';
import { MIB, SHA256_BLOCK } from '@koodrive/limits';
import {
  bytesOf,
  claimed,
  type EmbeddedParts,
  findFile,
  lapseLease,
  type OpenUpload,
  openUpload,
  putObject,
  recordPartHash,
  rejectsWithCode,
  sha256Hex,
  storePart,
  uploadIsOpen,
  useEmbeddedParts,
} from '../../../../test/support/embedded-parts.js';
import { UPLOAD_TOKEN_METADATA } from './file-id.js';
import { ClaimLostError, CompletionRunner } from './completion-runner.js';

const INITIAL: HashState = { h: SHA256_INITIAL_STATE, offset: 0 };

// What a PUT through the service records of `bytes` hashed from `from` (the part's hashCtx).
function hashedPart(bytes: Buffer, from: HashState, etag: string, endsFile: boolean): UploadedPartHash {
  const state = Sha256State.from(from).update(bytes);
  const end = from.offset + bytes.length;
  return {
    etag,
    size: bytes.length,
    hashedFrom: encodeHashCtx(from),
    hashedTo: end % SHA256_BLOCK === 0 ? encodeHashCtx(state.state()) : null,
    sha256: endsFile ? state.hexDigest() : null,
  };
}

function stateAfter(bytes: Buffer): HashState {
  return Sha256State.initial().update(bytes).state();
}

describe(CompletionRunner.name, () => {
  const parts = useEmbeddedParts();
  const runner = (p: EmbeddedParts = parts()) => new CompletionRunner(p.tasks, p.completions, p.storage, p.config);
  const row = (id: string) => parts().prisma.file.findUniqueOrThrow({ where: { id } });
  const events = (fileId: string) => parts().prisma.outboxEvent.count({ where: { fileId } });

  // A one-part file of `bytes` uploaded straight to the store (nothing hashed on the way).
  async function uploadedFile(bytes: Buffer): Promise<OpenUpload & { etag: string }> {
    const upload = await openUpload(parts(), { length: bytes.length });
    return { ...upload, etag: await storePart(parts(), upload, 1, bytes) };
  }

  // A parallel-mode file of two parts PUT through the service: part 2 hashed from `part2From`
  // (the hashCtx its client sent); the right one makes the chain hold.
  async function twoHashedParts(part2From?: HashState) {
    const part1 = bytesOf(5 * MIB, 1);
    const part2 = bytesOf(100, 2);
    const from = part2From ?? stateAfter(part1);
    const upload = await openUpload(parts(), { length: part1.length + part2.length }, [
      { partNumber: 1, partSize: part1.length, partOffset: 0, hashCtx: null },
      { partNumber: 2, partSize: part2.length, partOffset: part1.length, hashCtx: encodeHashCtx(from) },
    ]);
    const etag1 = await storePart(parts(), upload, 1, part1);
    const etag2 = await storePart(parts(), upload, 2, part2);
    await recordPartHash(parts(), upload.file.id, 1, hashedPart(part1, INITIAL, etag1, false));
    await recordPartHash(parts(), upload.file.id, 2, hashedPart(part2, from, etag2, true));
    return { ...upload, sha256: sha256Hex(Buffer.concat([part1, part2])) };
  }

  it('completes from the hash chain of parts hashed on their way in, reading nothing back', async () => {
    const upload = await twoHashedParts();
    const file = await claimed(parts(), upload.file, { expectedSha256: upload.sha256, xTraceid: 'trace-chain' });

    const result = await runner().run(file, 'request');

    assert.deepEqual(result, { fileId: file.id, sha256: upload.sha256, length: file.length });
    const after = await row(file.id);
    assert.equal(after.status, 'COMPLETED');
    assert.equal(after.verifiedBy, 'hash_chain');
    assert.equal(after.actualSha256, upload.sha256);
    assert.equal(after.claimExpiresAt, null);
    const [event] = await parts().prisma.outboxEvent.findMany({ where: { fileId: file.id } });
    assert.equal(event?.type, 'file.completed');
    assert.equal(event?.xTraceid, 'trace-chain');
    assert.equal(await uploadIsOpen(parts(), upload.file.storageKey, upload.uploadId), false);
  });

  it('releases the task with 13000402 when the hash chain is broken, before combining anything', async () => {
    // part 2's client sent the state after other bytes than part 1's
    const upload = await twoHashedParts(stateAfter(bytesOf(5 * MIB, 3)));
    const file = await claimed(parts(), upload.file);

    await rejectsWithCode(runner().run(file, 'request'), ApiCode.UploadIncomplete);

    const after = await row(file.id);
    assert.equal(after.status, 'UPLOADING');
    assert.equal(after.resultCode, ApiCode.UploadIncomplete);
    assert.notEqual(after.resultDetail, null);
    assert.equal(after.combinedAt, null);
    assert.equal(after.claimExpiresAt, null);
    // open for the part to be uploaded again; nothing combined
    assert.equal(await uploadIsOpen(parts(), upload.file.storageKey, upload.uploadId), true);
    assert.equal(await parts().disk.headObject(upload.file.storageKey), null);
    assert.equal(await events(file.id), 0);
  });

  it('fails a file whose hash chain proves another digest than the expected one, aborting its upload', async () => {
    const bytes = bytesOf(42);
    const upload = await openUpload(parts(), { length: bytes.length }, [
      { partNumber: 1, partSize: bytes.length, partOffset: 0, hashCtx: null },
    ]);
    const etag = await storePart(parts(), upload, 1, bytes);
    await recordPartHash(parts(), upload.file.id, 1, hashedPart(bytes, INITIAL, etag, true));
    const file = await claimed(parts(), upload.file, { expectedSha256: sha256Hex(bytesOf(42, 2)) });

    const error = await rejectsWithCode(runner().run(file, 'request'), ApiCode.UploadIncomplete);

    assert.equal(error.messageKey, 'integrityFailed');
    const after = await row(file.id);
    assert.equal(after.status, 'FAILED');
    assert.equal(after.resultCode, ApiCode.UploadIncomplete);
    assert.equal(await uploadIsOpen(parts(), upload.file.storageKey, upload.uploadId), false);
    assert.equal(await parts().disk.headObject(upload.file.storageKey), null);
    assert.equal(await parts().tasks.isNameTaken(file.containerId, file.parentFolder, file.fileName), false);
  });

  it('settles a vanished upload as combined when the object at its key is its own (token and size)', async () => {
    const bytes = bytesOf(42);
    const upload = await uploadedFile(bytes);
    // an earlier claim combined the parts, then died before it could record that
    await parts().disk.completeMultipartUpload(upload.file.storageKey, upload.uploadId, [
      { partNumber: 1, size: bytes.length, etag: upload.etag },
    ]);
    const file = await claimed(parts(), upload.file);

    const result = await runner().run(file, 'reconciler');

    assert.equal(result.sha256, sha256Hex(bytes));
    const after = await row(file.id);
    assert.equal(after.status, 'COMPLETED');
    assert.notEqual(after.combinedAt, null);
    // no hash chain: the object was read back
    assert.equal(after.verifiedBy, 'pipelined');
    assert.equal(await events(file.id), 1);
  });

  const notOurs: { readonly name: string; readonly leave: (upload: OpenUpload) => Promise<void> }[] = [
    { name: 'nothing', leave: () => Promise.resolve() },
    {
      name: "another upload's object",
      leave: (upload) =>
        putObject(parts(), upload.file.storageKey, { [UPLOAD_TOKEN_METADATA]: 'another-token' }, bytesOf(42)),
    },
    {
      name: 'an object with its token but of another size',
      leave: (upload) =>
        putObject(parts(), upload.file.storageKey, { [UPLOAD_TOKEN_METADATA]: upload.file.uploadToken }, bytesOf(41)),
    },
  ];
  for (const { name, leave } of notOurs) {
    it(`fails a vanished upload with 13000401 when its key holds ${name}`, async () => {
      const upload = await uploadedFile(bytesOf(42));
      // the store purged the upload
      await parts().disk.abortMultipartUpload(upload.file.storageKey, upload.uploadId);
      await leave(upload);
      const file = await claimed(parts(), upload.file);

      await rejectsWithCode(runner().run(file, 'request'), ApiCode.TaskNotFound);

      const after = await row(file.id);
      assert.equal(after.status, 'FAILED');
      assert.equal(after.resultCode, ApiCode.TaskNotFound);
      assert.equal(after.combinedAt, null);
      assert.equal(await events(file.id), 0);
      assert.equal(await parts().tasks.isNameTaken(file.containerId, file.parentFolder, file.fileName), false);
    });
  }

  it('releases the task with 13000402 when the store refuses the parts it listed', async () => {
    const upload = await uploadedFile(bytesOf(42));
    const file = await claimed(parts(), upload.file);
    // the client uploads the part again between the listing and the combine: its ETag changed
    parts().storage.beforeNext('completeMultipartUpload', () => storePart(parts(), upload, 1, bytesOf(42, 9)));

    await rejectsWithCode(runner().run(file, 'request'), ApiCode.UploadIncomplete);

    const after = await row(file.id);
    assert.equal(after.status, 'UPLOADING');
    assert.equal(after.resultCode, ApiCode.UploadIncomplete);
    assert.equal(after.combinedAt, null);
    assert.equal(await uploadIsOpen(parts(), upload.file.storageKey, upload.uploadId), true);
  });

  it('fails the file when the object read back has another digest, deleting the object and its upload', async () => {
    const bytes = bytesOf(42);
    const upload = await uploadedFile(bytes);
    const file = await claimed(parts(), upload.file, { expectedSha256: sha256Hex(bytesOf(42, 2)) });

    const error = await rejectsWithCode(runner().run(file, 'request'), ApiCode.UploadIncomplete);

    assert.equal(error.messageKey, 'integrityFailed');
    const after = await row(file.id);
    assert.equal(after.status, 'FAILED');
    assert.equal(after.resultCode, ApiCode.UploadIncomplete);
    assert.equal(after.completedAt, null);
    assert.equal(await parts().disk.headObject(upload.file.storageKey), null);
    assert.equal(await uploadIsOpen(parts(), upload.file.storageKey, upload.uploadId), false);
    assert.equal(await events(file.id), 0);
  });

  it('writes nothing once its claim is taken over mid-run (ClaimLostError); the new claimant finishes', async () => {
    const bytes = bytesOf(42);
    const upload = await uploadedFile(bytes);
    const file = await claimed(parts(), upload.file);
    const takeover: { file: UploadFile | null } = { file: null };
    // the runner stalls past its lease just before combining; the reconciler claims the file
    parts().storage.beforeNext('completeMultipartUpload', async () => {
      await lapseLease(parts(), file.id);
      takeover.file = await parts().completions.claimLapsedCompletion(file.id, 60);
    });

    await assert.rejects(runner().run(file, 'request'), ClaimLostError);

    const after = await row(file.id);
    assert.equal(after.claim, file.claim + 1);
    assert.equal(after.status, 'COMPLETING');
    assert.equal(after.combinedAt, null);
    assert.equal(after.resultCode, null);
    assert.equal(after.completedAt, null);
    assert.equal(await events(file.id), 0);
    // the combine did happen in the store: the new claim finds the upload gone and the object its own
    assert.ok(takeover.file !== null);
    const result = await runner().run(takeover.file, 'reconciler');
    assert.equal(result.sha256, sha256Hex(bytes));
    assert.equal((await row(file.id)).status, 'COMPLETED');
    assert.equal(await events(file.id), 1);
  });

  it('ends its lease at once when a dependency fails, so the next attempt need not wait for it', async () => {
    const upload = await uploadedFile(bytesOf(42));
    const file = await claimed(parts(), upload.file, { leaseSeconds: 60 });
    assert.ok(file.claimExpiresAt !== null && file.claimExpiresAt.getTime() > Date.now() + 30_000);
    parts().storage.failNext('listParts');

    await assert.rejects(runner().run(file, 'request'), DependencyUnavailableError);

    const after = await findFile(parts(), file.id);
    assert.equal(after.status, 'COMPLETING');
    assert.equal(after.claim, file.claim);
    assert.ok(after.claimExpiresAt !== null && after.claimExpiresAt.getTime() <= Date.now());
    assert.equal(after.resultCode, null);
    assert.equal(after.combinedAt, null);
    assert.equal(await uploadIsOpen(parts(), upload.file.storageKey, upload.uploadId), true);
  });
});
