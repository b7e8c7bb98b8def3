// UploadUrlService on the embedded parts (PGlite, the local-disk store; S3's presigner, offline, for
// URLs straight to storage): plans asked again, where part URLs point, and who may ask.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { Principal } from '@koodrive/auth';
import type { NewUploadFile } from '@koodrive/database';
import { ApiCode } from '@koodrive/errors';
import { MIB } from '@koodrive/limits';
import { S3ObjectStorage } from '@koodrive/storage';
import {
  claimed,
  completedFile,
  bytesOf,
  openUpload,
  partUrlsOf,
  principalFor,
  rejectsWithCode,
  testConfig,
  useEmbeddedParts,
} from '../../../../test/support/embedded-parts.js';
import type { PartRequestDto, PartUploadVia } from './dto/upload-url.dto.js';
import { PartUrlIssuer } from './part-urls.js';
import { UploadUrlService } from './upload-url.service.js';

const ORIGIN = 'http://upload.unit.test';
const S3_ENDPOINT = 'http://s3.unit.invalid:7480';

describe(UploadUrlService.name, () => {
  const parts = useEmbeddedParts();
  // a store that presigns part URLs (its presigner needs no network; nothing here reaches it)
  const s3Config = testConfig({
    S3_ENDPOINT,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: 'unit-key',
    AWS_SECRET_ACCESS_KEY: 'unit-secret',
  });
  const s3 = new S3ObjectStorage(s3Config.s3);
  after(() => s3.destroy());

  const onDisk = () => new UploadUrlService(parts().tasks, new PartUrlIssuer(parts().storage, parts().config));
  const onS3 = () => new UploadUrlService(parts().tasks, new PartUrlIssuer(s3, s3Config));
  const plansOf = async (fileId: string) =>
    (await parts().tasks.listPartPlans(fileId)).map(({ partNumber, partSize, partOffset, viaServiceOnly }) => ({
      partNumber,
      partSize,
      partOffset,
      viaServiceOnly,
    }));

  // An open task of `length` bytes created by `principal` (in its shared folder, if it acts in one).
  async function taskOf(principal: Principal, overrides: Partial<NewUploadFile> = {}) {
    const { file } = await openUpload(parts(), {
      ownerId: principal.userId,
      containerId: principal.containerId,
      shareFolderId: principal.shareFolderId ?? undefined,
      length: 10 * MIB + 5,
      ...overrides,
    });
    return file;
  }

  const ask = (
    service: UploadUrlService,
    principal: Principal,
    fileId: string,
    multiParts: PartRequestDto[],
    uploadVia?: PartUploadVia,
  ) =>
    service
      .presign(principal, { fileId, multiParts, uploadVia }, ORIGIN)
      .then((answer) => ({ multiParts: partUrlsOf(answer.multiParts) }));

  it('records a plan asked for again in place of the earlier one, with a fresh URL', async () => {
    const principal = principalFor();
    const file = await taskOf(principal);
    await ask(onDisk(), principal, file.id, [
      { partNumber: 1, partSize: 5 * MIB },
      { partNumber: 2, partSize: 5 * MIB },
    ]);

    // the client learns the file ends in part 2: it asks for part 2 again, 5 bytes longer
    const again = await ask(onDisk(), principal, file.id, [{ partNumber: 2, partSize: 5 * MIB + 5 }]);

    assert.deepEqual(
      again.multiParts.map(({ partNumber, partSize, partOffset }) => ({ partNumber, partSize, partOffset })),
      [{ partNumber: 2, partSize: 5 * MIB + 5, partOffset: 5 * MIB }],
    );
    assert.deepEqual(await plansOf(file.id), [
      { partNumber: 1, partSize: 5 * MIB, partOffset: 0, viaServiceOnly: true },
      { partNumber: 2, partSize: 5 * MIB + 5, partOffset: 5 * MIB, viaServiceOnly: true },
    ]);
  });

  it('leaves a plan asked for again as it stands untouched, and rewrites one that changed', async () => {
    const principal = principalFor();
    const file = await taskOf(principal);
    const asked = [
      { partNumber: 1, partSize: 5 * MIB },
      { partNumber: 2, partSize: 5 * MIB },
    ];
    const requestedAt = async () =>
      (
        await parts().prisma.$queryRawUnsafe<{ part_number: number; requested_at: Date }[]>(
          'SELECT part_number, requested_at FROM file_parts WHERE file_id = $1 ORDER BY part_number',
          file.id,
        )
      ).map((row) => row.requested_at.toISOString());
    await ask(onDisk(), principal, file.id, asked);
    const first = await requestedAt();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await ask(onDisk(), principal, file.id, asked);
    assert.deepEqual(await requestedAt(), first, 'the same plans: no row written');
    await ask(onDisk(), principal, file.id, [{ partNumber: 2, partSize: 5 * MIB + 5 }]);
    const [one, two] = await requestedAt();
    assert.equal(one, first[0]);
    assert.notEqual(two, first[1], 'the changed plan is written');
  });

  it('refuses a plan asked for again that would overlap another part with 13000102, changing nothing', async () => {
    const principal = principalFor();
    const file = await taskOf(principal);
    await ask(onDisk(), principal, file.id, [
      { partNumber: 1, partSize: 5 * MIB },
      { partNumber: 2, partSize: 5 * MIB + 5 },
    ]);

    await rejectsWithCode(
      ask(onDisk(), principal, file.id, [{ partNumber: 1, partSize: 6 * MIB }]),
      ApiCode.InvalidParameter,
    );

    assert.deepEqual(
      (await plansOf(file.id)).map((plan) => plan.partSize),
      [5 * MIB, 5 * MIB + 5],
    );
  });

  it('points every part at the service on a store that cannot presign, whatever was asked', async () => {
    const principal = principalFor();
    const file = await taskOf(principal);

    const answer = await ask(onDisk(), principal, file.id, [{ partNumber: 1, partSize: 5 * MIB }], 's3');

    assert.equal(answer.multiParts[0]?.uploadVia, 'service');
    assert.ok(answer.multiParts[0]?.uploadUrl.startsWith(`${ORIGIN}/koodrive/ose/v1/files/multipart/parts/`));
    assert.equal((await plansOf(file.id))[0]?.viaServiceOnly, true);
  });

  it('marks a part whose URL ever pointed straight at storage (via_service_only false for good)', async () => {
    const principal = principalFor();
    const file = await taskOf(principal);

    const first = await ask(
      onS3(),
      principal,
      file.id,
      [
        { partNumber: 1, partSize: 5 * MIB },
        { partNumber: 2, partSize: 5 * MIB + 5 },
      ],
      'service',
    );
    assert.deepEqual(
      first.multiParts.map((part) => part.uploadVia),
      ['service', 'service'],
    );
    const direct = await ask(onS3(), principal, file.id, [{ partNumber: 1, partSize: 5 * MIB }], 's3');
    const url = new URL(direct.multiParts[0]!.uploadUrl);
    assert.equal(url.origin, S3_ENDPOINT);
    assert.ok(url.searchParams.has('X-Amz-Signature'));
    assert.equal(url.searchParams.get('uploadId'), file.uploadId);
    // through the service again: the part may still hold what was PUT straight to storage
    await ask(onS3(), principal, file.id, [{ partNumber: 1, partSize: 5 * MIB }], 'service');

    assert.deepEqual(
      (await plansOf(file.id)).map((plan) => plan.viaServiceOnly),
      [false, true],
    );
  });

  it("uses the deployment's default (s3) when a request names none", async () => {
    const principal = principalFor();
    const file = await taskOf(principal);

    const answer = await ask(onS3(), principal, file.id, [{ partNumber: 1, partSize: 5 * MIB }]);

    assert.equal(answer.multiParts[0]?.uploadVia, 's3');
    assert.equal((await plansOf(file.id))[0]?.viaServiceOnly, false);
  });

  describe('a file not open for parts', () => {
    const part = [{ partNumber: 1, partSize: 42 }];

    it('is 13000403 once a completion has claimed it', async () => {
      const principal = principalFor();
      const file = await taskOf(principal, { length: 42 });
      await claimed(parts(), file);

      await rejectsWithCode(ask(onDisk(), principal, file.id, part), ApiCode.StatusChangeFailed);
      assert.deepEqual(await plansOf(file.id), []);
    });

    it('is 13000403 once completed', async () => {
      const principal = principalFor();
      const file = await completedFile(parts(), bytesOf(42), {
        ownerId: principal.userId,
        containerId: principal.containerId,
      });

      await rejectsWithCode(ask(onDisk(), principal, file.id, part), ApiCode.StatusChangeFailed);
    });

    it('is 13000401 once past its expiry, before and after the reaper has marked it EXPIRED', async () => {
      const principal = principalFor();
      const file = await taskOf(principal, { length: 42, expiresAt: new Date(Date.now() - 1000) });

      await rejectsWithCode(ask(onDisk(), principal, file.id, part), ApiCode.TaskNotFound);
      await parts().maintenance.expireOverdueUploads(100, ApiCode.TaskNotFound);
      assert.equal((await parts().prisma.file.findUniqueOrThrow({ where: { id: file.id } })).status, 'EXPIRED');
      await rejectsWithCode(ask(onDisk(), principal, file.id, part), ApiCode.TaskNotFound);
    });
  });

  describe('who may ask (13000401 for anyone else, as for an unknown id)', () => {
    const part = [{ partNumber: 1, partSize: 42 }];
    const folder = `sf-${randomUUID()}`;
    const folderContainer = `c-${randomUUID()}`;
    const inFolder = (userId: string, shareFolderId = folder) =>
      principalFor({ userId, containerId: folderContainer, shareFolderId });

    it('refuses an unknown id and the file of another user', async () => {
      const file = await taskOf(principalFor(), { length: 42 });

      await rejectsWithCode(ask(onDisk(), principalFor(), file.id, part), ApiCode.TaskNotFound);
      await rejectsWithCode(ask(onDisk(), principalFor(), `Fi${'x'.repeat(31)}`, part), ApiCode.TaskNotFound);
    });

    it('serves a file created in a shared folder only to its creator, acting in that folder', async () => {
      const creator = inFolder(`u-${randomUUID()}`);
      const file = await taskOf(creator, { length: 42 });

      // without the folder's header, or with another folder's
      await rejectsWithCode(
        ask(onDisk(), principalFor({ userId: creator.userId }), file.id, part),
        ApiCode.TaskNotFound,
      );
      await rejectsWithCode(
        ask(onDisk(), inFolder(creator.userId, `sf-${randomUUID()}`), file.id, part),
        ApiCode.TaskNotFound,
      );
      // another member of the folder
      await rejectsWithCode(ask(onDisk(), inFolder(`u-${randomUUID()}`), file.id, part), ApiCode.TaskNotFound);

      const answer = await ask(onDisk(), creator, file.id, part);
      assert.equal(answer.multiParts.length, 1);
    });

    it("refuses a file of the user's own space asked for from a shared folder", async () => {
      const owner = principalFor();
      const file = await taskOf(owner, { length: 42 });

      await rejectsWithCode(
        ask(onDisk(), { ...owner, shareFolderId: folder, containerId: folderContainer }, file.id, part),
        ApiCode.TaskNotFound,
      );
      assert.equal((await ask(onDisk(), owner, file.id, part)).multiParts.length, 1);
    });
  });
});
