// New versions of a file (API.md, "New versions of a file"; issue 26) on both stacks, each the
// service in a process of its own: the real one (PostgreSQL, Redis, Ceph RGW) and the embedded one
// (PGlite, the local-disk store, in process). What the service recorded and stored is read behind
// its back: rows from the stack's database, bytes with the test's own S3 client or off the disk.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MIB } from '@koodrive/limits';
import { apiCall, call, putPart, testBytes, type TestUser, until } from '../support/harness.ts';
import {
  answerToPut,
  completedFile,
  literal,
  type PartAnswer,
  parallelParts,
  putParts,
  revisionCall,
  revisionStacks,
  sha256Of,
  uploadVersion,
} from '../support/revisions.ts';
import type { ServiceProcess } from '../support/service-process.ts';

interface FileRowView {
  status: string;
  actual_sha256: string;
  length: string;
  storage_key: string;
  revision_id: string;
  revision_version: number;
  keep_policy: number;
  verified_by: string;
}

interface VersionRowView {
  id: string;
  status: string;
  storage_key: string;
  upload_id: string | null;
  result_code: number | null;
  result_detail: string | null;
  revision_id: string;
}

// koodrive_complete_outcomes_total{code="0",by="request"}: the completions a request ran to success
async function completionsRun(service: ServiceProcess): Promise<number> {
  const text = await (await fetch(service.metricsUrl)).text();
  const line = text
    .split('\n')
    .find(
      (l) => l.startsWith('koodrive_complete_outcomes_total{') && l.includes('code="0"') && l.includes('by="request"'),
    );
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

for (const stack of await revisionStacks()) {
  describe(`new versions of a file on the ${stack.name} stack`, () => {
    let service: ServiceProcess;
    let user: TestUser;
    const fileRow = async (fileId: string): Promise<FileRowView> => {
      const [row] = await stack.rows<FileRowView>(
        `SELECT status, actual_sha256, length::text, storage_key, revision_id, revision_version, keep_policy,
                verified_by FROM files WHERE id = ${literal(fileId)}`,
      );
      assert.ok(row, `${fileId} has a row`);
      return row;
    };
    const versionRows = (fileId: string): Promise<VersionRowView[]> =>
      stack.rows<VersionRowView>(
        `SELECT id, status, storage_key, upload_id, result_code, result_detail, revision_id FROM files
          WHERE revision_of = ${literal(fileId)} ORDER BY created_at`,
      );
    const completeRevision = (fileId: string, sha256?: string) =>
      revisionCall(service.baseUrl, 'completeRevision', { fileId, sha256 }, { token: user.token });
    // the file's current version, as completeRevision answers it with none pending
    const currentVersion = async (fileId: string) => {
      const answer = await completeRevision(fileId);
      assert.equal(answer.body.code, 0, JSON.stringify(answer.body));
      return answer.body;
    };

    before(async () => {
      service = await stack.start();
      user = await stack.user();
    });
    after(async () => {
      await service.stop();
      await stack.cleanUp();
    });

    for (const via of stack.vias) {
      it(`uploads a version through ${via === 's3' ? 'S3' : 'the service'}: parts by uploadUrl with the file's id, completeRevision makes it the file's content`, async () => {
        const first = testBytes(5 * MIB + 100, 70);
        const file = await completedFile(service.baseUrl, user, first);
        const before = await currentVersion(file.fileId);
        assert.equal(before.revisionVersion, 1);
        assert.match(before.revisionId as string, /^\d{1,19}\.\d{1,19}$/);

        const second = testBytes(2 * 5 * MIB + 7, 71);
        const version = await uploadVersion(service.baseUrl, user, file, second, { via, urlsFromUploadUrl: true });
        assert.deepEqual(
          version.parts.map((part) => [
            part.partId,
            new URL(part.uploadUrl).pathname.includes('/files/multipart/parts/'),
          ]),
          version.parts.map((part) => [`${file.fileId}-${part.partNumber}`, via === 'service']),
          "parts named under the file's id; URLs where asked",
        );
        const answer = await completeRevision(file.fileId, sha256Of(second));
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.body, {
          code: 0,
          msg: 'success.',
          fileId: file.fileId,
          sha256: sha256Of(second),
          length: second.length,
          revisionId: version.revisionId,
          revisionVersion: 2,
        });
        // the same asset, a new version
        assert.equal(version.revisionId.split('.')[0], (before.revisionId as string).split('.')[0]);
        assert.notEqual(version.revisionId, before.revisionId);
        const row = await fileRow(file.fileId);
        assert.equal(row.status, 'COMPLETED');
        assert.equal(row.actual_sha256, sha256Of(second));
        assert.equal(Number(row.length), second.length);
        assert.equal(row.revision_version, 2);
        // through the service, the parts' hash chain proved it; straight to S3, it was read back
        assert.equal(row.verified_by === 'hash_chain', via === 'service', row.verified_by);
        assert.deepEqual(await stack.stored(row.storage_key), second);
        // a repeat answers the same
        assert.deepEqual((await completeRevision(file.fileId)).body, answer.body);
        assert.equal((await completeRevision(file.fileId, sha256Of(first))).body.code, 13000402);
      });
    }

    it('keeps every version: after three new versions each one is in storage with its digest, read back', async () => {
      const contents = [
        testBytes(5 * MIB + 3, 72),
        testBytes(64 * 1024, 73),
        testBytes(5 * MIB + 9, 74),
        testBytes(1, 75),
      ];
      const file = await completedFile(service.baseUrl, user, contents[0]!);
      const revisionIds = [(await currentVersion(file.fileId)).revisionId as string];
      for (const [i, data] of contents.slice(1).entries()) {
        const version = await uploadVersion(service.baseUrl, user, file, data, {
          via: stack.vias[i % stack.vias.length],
          keepPolicy: i % 2,
        });
        assert.equal((await completeRevision(file.fileId)).body.revisionVersion, i + 2);
        revisionIds.push(version.revisionId);
      }
      const history = await stack.rows<{
        revision_id: string;
        revision_version: number;
        sha256: string;
        storage_key: string;
      }>(
        `SELECT revision_id, revision_version, sha256, storage_key FROM file_versions
          WHERE file_id = ${literal(file.fileId)} ORDER BY revision_version`,
      );
      const current = await fileRow(file.fileId);
      const all = [...history, { ...current, sha256: current.actual_sha256 }];
      assert.deepEqual(
        all.map((v) => [v.revision_id, v.revision_version]),
        revisionIds.map((id, i) => [id, i + 1]),
      );
      assert.equal(new Set(all.map((v) => v.storage_key)).size, 4, 'four objects');
      for (const [i, version] of all.entries()) {
        const bytes = await stack.stored(version.storage_key);
        assert.ok(bytes !== null, `version ${i + 1} is in storage`);
        assert.equal(sha256Of(bytes), sha256Of(contents[i]!), `version ${i + 1}'s bytes`);
        assert.equal(version.sha256, sha256Of(contents[i]!));
      }
    });

    it('announces file.revision.completed with the payload API.md lists, field by field, in the same step', async () => {
      const file = await completedFile(service.baseUrl, user, testBytes(100, 76));
      const replaced = (await currentVersion(file.fileId)).revisionId;
      const data = testBytes(5 * MIB + 1, 77);
      const version = await uploadVersion(service.baseUrl, user, file, data, { keepPolicy: 1 });
      assert.equal((await completeRevision(file.fileId)).body.code, 0);
      const row = await fileRow(file.fileId);
      const events = await stack.rows<{ type: string; file_id: string; payload: Record<string, unknown> }>(
        `SELECT type, file_id, payload FROM outbox_events WHERE file_id = ${literal(file.fileId)} ORDER BY id`,
      );
      assert.deepEqual(
        events.map((event) => event.type),
        ['file.completed', 'file.revision.completed'],
      );
      const event = events[1]!;
      assert.equal(event.file_id, file.fileId);
      assert.deepEqual(event.payload, {
        fileId: file.fileId,
        containerId: file.containerId,
        revisionId: version.revisionId,
        revisionVersion: 2,
        sha256: sha256Of(data),
        length: data.length,
        storageKey: row.storage_key,
        keepPolicy: 1,
        replacedRevisionId: replaced,
      });
      assert.equal(row.keep_policy, 1);
      // the version's own object, in the file's key space
      assert.match(row.storage_key, new RegExp(`/${file.fileId}\\.v\\d+$`));
      const [history] = await stack.rows<{ revision_id: string; keep_policy: number; replaced_at: Date }>(
        `SELECT revision_id, keep_policy, replaced_at FROM file_versions WHERE file_id = ${literal(file.fileId)}`,
      );
      assert.equal(history!.revision_id, replaced);
      assert.equal(history!.keep_policy, 0);
    });

    it('takes a flash-upload version of content the container holds: complete at once, no bytes sent', async () => {
      const held = testBytes(5 * MIB + 11, 78);
      const other = await completedFile(service.baseUrl, user, held);
      const file = await completedFile(service.baseUrl, user, testBytes(200, 79));
      const created = await revisionCall(
        service.baseUrl,
        'createRevision',
        { fileId: file.fileId, containerId: file.containerId, length: held.length, sha256: sha256Of(held) },
        { token: user.token },
      );
      assert.equal(created.body.code, 0, JSON.stringify(created.body));
      assert.deepEqual(Object.keys(created.body), [
        'code',
        'msg',
        'fileId',
        'uploadId',
        'containerId',
        'rapidUpload',
        'multiParts',
        'revisionId',
      ]);
      assert.equal(created.body.rapidUpload, true);
      assert.equal(created.body.uploadId, '');
      assert.deepEqual(created.body.multiParts, []);
      const current = await currentVersion(file.fileId);
      assert.equal(current.revisionId, created.body.revisionId);
      assert.equal(current.revisionVersion, 2);
      assert.equal(current.sha256, sha256Of(held));
      const row = await fileRow(file.fileId);
      // the held object, shared: still there, with the other file's digest
      assert.equal(row.storage_key, (await fileRow(other.fileId)).storage_key);
      assert.equal(row.verified_by, 'copy');
      assert.equal(sha256Of((await stack.stored(row.storage_key))!), sha256Of(held));
      const events = await stack.rows<{ type: string }>(
        `SELECT type FROM outbox_events WHERE file_id = ${literal(file.fileId)} ORDER BY id`,
      );
      assert.deepEqual(
        events.map((event) => event.type),
        ['file.completed', 'file.revision.completed'],
      );
    });

    it('supersedes an older pending version: its part URLs refuse bytes (13000401), its multipart upload is aborted, completeRevision takes the newer', async () => {
      const file = await completedFile(service.baseUrl, user, testBytes(300, 80));
      const older = testBytes(2 * 5 * MIB, 81);
      const olderParts = parallelParts(older, 5 * MIB);
      const first = await revisionCall(
        service.baseUrl,
        'createRevision',
        {
          fileId: file.fileId,
          containerId: file.containerId,
          length: older.length,
          multiParts: olderParts,
          uploadVia: 'service',
        },
        { token: user.token },
      );
      assert.equal(first.body.code, 0, JSON.stringify(first.body));
      const [part1, part2] = first.body.multiParts as PartAnswer[];
      await putPart(part1!.uploadUrl, older.subarray(0, 5 * MIB));
      const [pending] = await versionRows(file.fileId);
      assert.equal(pending!.status, 'UPLOADING');
      assert.equal(await stack.uploadExists(pending!.storage_key, pending!.upload_id!), true);

      const newer = testBytes(5 * MIB + 5, 82);
      const second = await uploadVersion(service.baseUrl, user, file, newer);
      assert.deepEqual(await answerToPut(part2!.uploadUrl, older.subarray(5 * MIB)), { status: 400, code: 13000401 });
      const [superseded, current] = await versionRows(file.fileId);
      assert.equal(superseded!.id, pending!.id);
      assert.equal(superseded!.status, 'EXPIRED');
      assert.equal(superseded!.result_code, 13000401);
      assert.match(superseded!.result_detail!, /superseded/);
      assert.equal(await stack.uploadExists(pending!.storage_key, pending!.upload_id!), false, 'aborted');
      assert.equal(superseded!.upload_id, null, 'recorded aborted');
      assert.equal(current!.status, 'UPLOADING');

      const completed = await completeRevision(file.fileId);
      assert.equal(completed.body.code, 0, JSON.stringify(completed.body));
      assert.equal(completed.body.revisionId, second.revisionId);
      assert.equal(completed.body.sha256, sha256Of(newer));
      assert.equal(await stack.stored(superseded!.storage_key), null, 'nothing of the older one was stored');
    });

    it("fails a version whose digest differs (13000402, for good), deleting its own object only: the file's stays", async () => {
      const first = testBytes(5 * MIB + 13, 93);
      const file = await completedFile(service.baseUrl, user, first);
      const before = await fileRow(file.fileId);
      const data = testBytes(5 * MIB + 14, 94);
      await uploadVersion(service.baseUrl, user, file, data, { sha256: 'ab'.repeat(32), via: stack.vias[0] });
      const failed = await completeRevision(file.fileId);
      assert.equal(failed.body.code, 13000402, JSON.stringify(failed.body));
      assert.equal((await completeRevision(file.fileId)).body.code, 13000402, 'for good');
      const [version] = await versionRows(file.fileId);
      assert.equal(version!.status, 'FAILED');
      assert.equal(await stack.stored(version!.storage_key), null, "the failed version's object is gone");
      const after = await fileRow(file.fileId);
      assert.deepEqual(after, before, 'the file is as it was');
      assert.equal(sha256Of((await stack.stored(after.storage_key))!), sha256Of(first), 'and so are its bytes');
      // a new version may follow
      const next = testBytes(100, 95);
      await uploadVersion(service.baseUrl, user, file, next);
      assert.equal((await completeRevision(file.fileId)).body.sha256, sha256Of(next));
    });

    it('answers 13000403 to createRevision while an older version is being completed, a lapsed claim too', async () => {
      const file = await completedFile(service.baseUrl, user, testBytes(400, 83));
      const data = testBytes(64 * 1024, 84);
      await uploadVersion(service.baseUrl, user, file, data);
      const [version] = await versionRows(file.fileId);
      // a completion whose worker died: claimed, its lease run out
      await stack.rows(
        `UPDATE files SET status = 'COMPLETING', claim = claim + 1, claim_expires_at = now() - interval '1 second'
          WHERE id = ${literal(version!.id)}`,
      );
      const busy = await revisionCall(
        service.baseUrl,
        'createRevision',
        { fileId: file.fileId, containerId: file.containerId, length: 10 },
        { token: user.token },
      );
      assert.equal(busy.body.code, 13000403, JSON.stringify(busy.body));
      assert.equal((await versionRows(file.fileId)).length, 1, 'nothing created');
      // completeRevision takes the lapsed claim over and finishes the version
      const completed = await completeRevision(file.fileId);
      assert.equal(completed.body.code, 0, JSON.stringify(completed.body));
      assert.equal(completed.body.sha256, sha256Of(data));
    });

    it('completes concurrent completeRevisions once: one combine, one answer for all', async () => {
      const file = await completedFile(service.baseUrl, user, testBytes(500, 85));
      const data = testBytes(2 * 5 * MIB + 3, 86);
      const version = await uploadVersion(service.baseUrl, user, file, data);
      const ranBefore = await completionsRun(service);
      const answers = await Promise.all(Array.from({ length: 6 }, () => completeRevision(file.fileId)));
      for (const answer of answers) {
        assert.deepEqual(answer.body, answers[0]!.body);
      }
      assert.equal(answers[0]!.body.code, 0, JSON.stringify(answers[0]!.body));
      assert.equal(answers[0]!.body.revisionId, version.revisionId);
      assert.equal(answers[0]!.body.revisionVersion, 2);
      assert.equal((await completionsRun(service)) - ranBefore, 1, 'one completion ran');
      const counts = await stack.rows<{ events: number; history: number }>(
        `SELECT (SELECT count(*)::int FROM outbox_events WHERE file_id = ${literal(file.fileId)}
                   AND type = 'file.revision.completed') AS events,
                (SELECT count(*)::int FROM file_versions WHERE file_id = ${literal(file.fileId)}) AS history`,
      );
      assert.deepEqual(counts, [{ events: 1, history: 1 }]);
    });

    it('files/complete on a file with a pending version answers the file as it is, and never completes the version', async () => {
      const first = testBytes(600, 87);
      const file = await completedFile(service.baseUrl, user, first);
      const data = testBytes(5 * MIB + 2, 88);
      await uploadVersion(service.baseUrl, user, file, data);
      const answer = await call(service.baseUrl, 'complete', { fileId: file.fileId }, { token: user.token });
      assert.deepEqual(answer.body, {
        code: 0,
        msg: 'success.',
        fileId: file.fileId,
        sha256: sha256Of(first),
        length: first.length,
      });
      const [version] = await versionRows(file.fileId);
      assert.equal(version!.status, 'UPLOADING');
      // the version's own row is no upload task a client can name
      for (const route of ['complete', 'multipart/uploadUrl']) {
        const byRow = await call(
          service.baseUrl,
          route,
          { fileId: version!.id, multiParts: [{ partNumber: 1, partSize: 1 }] },
          { token: user.token },
        );
        assert.equal(byRow.body.code, 13000401, route);
      }
      assert.equal((await completeRevision(file.fileId)).body.sha256, sha256Of(data));
    });

    it("uploadUrl with a file's id: its pending version's parts, 13000401 once that version expired, 13000403 with none pending", async () => {
      const file = await completedFile(service.baseUrl, user, testBytes(900, 92));
      const uploadUrl = () =>
        call(
          service.baseUrl,
          'multipart/uploadUrl',
          { fileId: file.fileId, multiParts: [{ partNumber: 1, partSize: 10, partOffset: 0 }] },
          { token: user.token },
        );
      assert.equal((await uploadUrl()).body.code, 13000403, 'a completed file, no version');
      const created = await revisionCall(
        service.baseUrl,
        'createRevision',
        { ...file, length: 10 },
        { token: user.token },
      );
      assert.equal(created.body.code, 0);
      const [version] = await versionRows(file.fileId);
      const planned = await uploadUrl();
      assert.equal(planned.body.code, 0, JSON.stringify(planned.body));
      const [url] = planned.body.multiParts as PartAnswer[];
      assert.equal(url!.partId, `${file.fileId}-1`);
      const [plan] = await stack.rows<{ file_id: string }>(
        `SELECT file_id FROM file_parts WHERE file_id = ${literal(version!.id)}`,
      );
      assert.equal(plan!.file_id, version!.id, "the plan is the version's");
      await stack.rows(`UPDATE files SET expires_at = now() - interval '1 second' WHERE id = ${literal(version!.id)}`);
      assert.equal((await uploadUrl()).body.code, 13000401, 'the version expired');
      assert.equal((await completeRevision(file.fileId)).body.code, 13000401);
    });

    it('refuses what the contract refuses: another containerId or a version row is 13000401, a file not completed 13000403, bad fields 13000102', async () => {
      const file = await completedFile(service.baseUrl, user, testBytes(700, 89));
      const open = await call(service.baseUrl, 'create', { fileName: 'open.bin', length: 10 }, { token: user.token });
      const create = (body: object) =>
        revisionCall(
          service.baseUrl,
          'createRevision',
          { fileId: file.fileId, containerId: file.containerId, length: 10, ...body },
          { token: user.token },
        );
      assert.equal((await create({ containerId: 'not-its-container' })).body.code, 13000401);
      assert.equal((await create({ fileId: 'Fi0123456789abcdefghijABCDEFGHIJk' })).body.code, 13000401);
      assert.equal((await create({ fileId: open.body.fileId })).body.code, 13000403);
      assert.equal(
        (await revisionCall(service.baseUrl, 'completeRevision', { fileId: open.body.fileId }, { token: user.token }))
          .body.code,
        13000403,
      );
      for (const [field, value, detail] of [
        ['keepPolicy', 2, 'keepPolicy: must be 0 or 1'],
        ['uploadType', 0, 'uploadType: must be 1 (multipart); 0 and 2 are not supported yet'],
        ['uploadType', 2, 'uploadType: must be 1 (multipart); 0 and 2 are not supported yet'],
        ['multiParts', [{ partNumber: 1, partSize: 20 }], 'multiParts[0]'],
      ] as const) {
        const answer = await create({ [field]: value });
        assert.equal(answer.body.code, 13000102, field);
        assert.ok(answer.body.msg.includes(detail), answer.body.msg);
      }
      const created = await create({ uploadMode: 'put' });
      assert.equal(created.body.code, 0);
      assert.equal((created.body.multiParts as PartAnswer[]).length, 1);
      const [version] = await versionRows(file.fileId);
      const byRow = await create({ fileId: version!.id });
      assert.equal(byRow.body.code, 13000401, 'a version row names no file');
    });

    it("takes no name, folder or autoRename (the version keeps the file's), and requires fileId, containerId and length", async () => {
      const file = await completedFile(service.baseUrl, user, testBytes(800, 91));
      const placeOf = async () =>
        (
          await stack.rows<{ file_name: string; parent_folder: string }>(
            `SELECT file_name, parent_folder FROM files WHERE id = ${literal(file.fileId)}`,
          )
        )[0];
      const place = await placeOf();
      assert.ok(place, 'the file has a name and a folder');
      const required = { fileId: file.fileId, containerId: file.containerId, length: 10 };
      for (const field of ['fileId', 'containerId', 'length'] as const) {
        const body: Partial<typeof required> = { ...required };
        delete body[field];
        const answer = await revisionCall(service.baseUrl, 'createRevision', body, { token: user.token });
        assert.equal(answer.body.code, 13000102, `without ${field}: ${JSON.stringify(answer.body)}`);
        assert.ok(answer.body.msg.includes(field), answer.body.msg);
      }
      assert.deepEqual(await versionRows(file.fileId), [], 'a refused createRevision opens nothing');
      const data = testBytes(900, 92);
      const created = await revisionCall(
        service.baseUrl,
        'createRevision',
        {
          ...required,
          length: data.length,
          multiParts: parallelParts(data, 5 * MIB),
          fileName: 'renamed.bin',
          parentFolder: 'Fo0123456789abcdefghijABCDEFGHIJk',
          autoRename: 3,
        },
        { token: user.token },
      );
      assert.equal(created.body.code, 0, JSON.stringify(created.body));
      assert.equal('fileName' in created.body, false, 'the answer names no file name');
      await putParts(data, created.body.multiParts as PartAnswer[]);
      const done = await completeRevision(file.fileId, sha256Of(data));
      assert.equal(done.body.code, 0, JSON.stringify(done.body));
      assert.deepEqual(await placeOf(), place, "the file's name and folder, as they were");
    });

    it('leaves a version with a part missing open (13000402), keeps keepPolicy 0 by default, and serves no other revision route', async () => {
      const file = await completedFile(service.baseUrl, user, testBytes(900, 96));
      // a version of two parts, only the first PUT
      const data = testBytes(5 * MIB + 20, 97);
      const created = await revisionCall(
        service.baseUrl,
        'createRevision',
        {
          fileId: file.fileId,
          containerId: file.containerId,
          length: data.length,
          multiParts: parallelParts(data, 5 * MIB),
        },
        { token: user.token },
      );
      assert.equal(created.body.code, 0, JSON.stringify(created.body));
      const [firstPart] = created.body.multiParts as PartAnswer[];
      await putParts(data, [firstPart!]);
      const incomplete = await completeRevision(file.fileId);
      assert.equal(incomplete.body.code, 13000402, JSON.stringify(incomplete.body));
      assert.match(incomplete.body.msg, /^File upload incomplete\. missing parts: 2/);
      const [version] = await stack.rows<{ status: string; keep_policy: number }>(
        `SELECT status, keep_policy FROM files WHERE revision_of = ${literal(file.fileId)}`,
      );
      assert.deepEqual(version, { status: 'UPLOADING', keep_policy: 0 }, 'still open, keepPolicy 0 when not sent');
      assert.equal((await fileRow(file.fileId)).revision_version, 1, 'the file is as it was');

      for (const route of ['listRevision', 'getRevision', 'updateRevision', 'deleteRevision', 'restoreRevision']) {
        const answer = await apiCall(
          service.baseUrl,
          `revision/${route}`,
          { fileId: file.fileId },
          { token: user.token },
        );
        assert.equal(answer.status, 404, route);
      }
    });

    it('a SIGKILL mid-completeRevision is finished by the reconciler of another process', async (t) => {
      await service.stop();
      let file: { fileId: string; containerId: string } | undefined;
      // the version caught in the middle of its completion, and its bytes: an attempt that finished
      // first goes again with other bytes (with the same ones, the file would already hold them, and
      // the wait below for the reconciler would end before it had done anything)
      let killed: string | undefined;
      let data: Buffer = Buffer.alloc(0);
      let attempt = 0;
      for (; attempt < 5 && killed === undefined; attempt++) {
        const first = await stack.start({ COMPLETE_LEASE_SECONDS: '2' });
        try {
          file ??= await completedFile(first.baseUrl, user, testBytes(800, 91));
          data = testBytes(32 * MIB, 200 + attempt);
          killed = await killedMidCompleteRevision(first, file, data);
        } finally {
          await first.stop();
        }
      }
      assert.ok(
        killed !== undefined && file !== undefined,
        `the service was killed mid-completeRevision (${attempt} attempts)`,
      );
      t.diagnostic(`killed mid-completeRevision at attempt ${attempt}`);
      const [before] = await stack.rowsStopped<{ revision_version: number }>(
        `SELECT revision_version FROM files WHERE id = ${literal(file.fileId)}`,
      );
      // no client comes back: another process's reconciler, on its interval, finishes it
      service = await stack.start({ RECONCILE_INTERVAL_SECONDS: '1', COMPLETE_LEASE_SECONDS: '2' });
      await until(
        'the reconciler completed the version',
        async () => ((await fileRow(file.fileId)).actual_sha256 === sha256Of(data) ? true : undefined),
        60_000,
      );
      const row = await fileRow(file.fileId);
      assert.equal(row.revision_version, before!.revision_version + 1);
      assert.equal(sha256Of((await stack.stored(row.storage_key))!), sha256Of(data));
      const [version] = await stack.rows<{ status: string; claim: number }>(
        `SELECT status, claim FROM files WHERE id = ${literal(killed)}`,
      );
      assert.deepEqual(version, { status: 'COMPLETED', claim: 2 }, "the reconciler's claim, the second");
      const [events] = await stack.rows<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox_events WHERE file_id = ${literal(file.fileId)}
            AND payload->>'sha256' = ${literal(sha256Of(data))}`,
      );
      assert.equal(events!.n, 1);
      const answer = await completeRevision(file.fileId, sha256Of(data));
      assert.equal(answer.body.code, 0);
      assert.equal(answer.body.revisionVersion, before!.revision_version + 1);
    });

    // A version of `file` uploaded through `process`, then completeRevision, and SIGKILL as soon as
    // the version is claimed. Answers the version's row id when the kill came before the completion
    // was recorded (else undefined: the attempt was too late).
    async function killedMidCompleteRevision(
      process: ServiceProcess,
      file: { fileId: string; containerId: string },
      data: Buffer,
    ): Promise<string | undefined> {
      // no hashCtx: the version is read back once combined, which takes a while
      const created = await revisionCall(
        process.baseUrl,
        'createRevision',
        {
          fileId: file.fileId,
          containerId: file.containerId,
          length: data.length,
          uploadVia: 'service',
          multiParts: [0, 1, 2, 3].map((i) => ({ partNumber: i + 1, partSize: 8 * MIB, partOffset: i * 8 * MIB })),
        },
        { token: user.token },
      );
      assert.equal(created.body.code, 0, JSON.stringify(created.body));
      await putParts(data, created.body.multiParts as PartAnswer[]);
      const pending = (await versionRows(file.fileId)).at(-1)!;
      const completing = revisionCall(
        process.baseUrl,
        'completeRevision',
        { fileId: file.fileId },
        { token: user.token },
      );
      // probed every 5 ms: a 32 MiB version's completion (combine, read-back) can be over in 100 ms
      // here, the interval of the harness's usual probe, and then every attempt comes too late
      await until(
        'the version is claimed',
        async () => ((await versionRows(file.fileId)).at(-1)?.status !== 'UPLOADING' ? true : undefined),
        30_000,
        5,
      );
      process.signal('SIGKILL');
      await completing.catch(() => undefined);
      await process.exited();
      const [row] = await stack.rowsStopped<{ status: string }>(
        `SELECT status FROM files WHERE id = ${literal(pending.id)}`,
      );
      return row!.status === 'COMPLETING' ? pending.id : undefined;
    }
  });
}
