// CreateUploadService on the embedded parts (PGlite, the local-disk store): names, flash uploads,
// quota, the parts planned at create, and what a create that fails leaves behind (nothing).
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { MemoryProofFailures, type Principal } from '@koodrive/auth';
import type { UploadFile } from '@koodrive/database';
import { ApiCode } from '@koodrive/errors';
import { MAX_PUT_LENGTH, MIB } from '@koodrive/limits';
import { NO_QUOTA_RECORD, type QuotaRecord, type QuotaStore } from '@koodrive/quota';
import {
  bytesOf,
  completedFile,
  partUrlsOf,
  principalFor,
  rejectsWithCode,
  sha256Hex,
  uploadIsOpen,
  useEmbeddedParts,
} from '../../../../test/support/embedded-parts.js';
import { CreateUploadService } from './create-upload.service.js';
import type { CreateUploadDto } from './dto/create-upload.dto.js';
import { PartUrlIssuer } from './part-urls.js';
import { UploadOpener } from './upload-opener.service.js';

const ORIGIN = 'http://upload.unit.test';

// KooDrive's accounting, as the test sets it: containers without a record have no limit.
class QuotaBook implements QuotaStore {
  private readonly quotas = new Map<string, QuotaRecord>();

  set(containerId: string, quota: { used: number; limit: number } | QuotaRecord): void {
    this.quotas.set(containerId, 'state' in quota ? quota : { state: 'set', ...quota });
  }

  find(containerId: string): Promise<QuotaRecord> {
    return Promise.resolve(this.quotas.get(containerId) ?? NO_QUOTA_RECORD);
  }
}

// proofCode as API.md defines it, computed here from the spec rather than with the service's code.
function proofCodeFor(authorization: string, bytes: Buffer): string {
  const seed = createHash('sha256').update(Buffer.from(authorization, 'latin1')).digest('hex');
  const h = createHash('sha256').update(seed, 'ascii').digest();
  const start = Number((h.readBigUInt64BE(24) & ((1n << 63n) - 1n)) % BigInt(bytes.length));
  const end = Math.min(start + 8, bytes.length);
  return createHash('sha256').update(bytes.subarray(start, end)).digest('hex');
}

function dto(overrides: Partial<CreateUploadDto> = {}): CreateUploadDto {
  return { fileName: `f-${randomUUID()}.bin`, length: 42, ...overrides };
}

describe(CreateUploadService.name, () => {
  const parts = useEmbeddedParts();
  const quotas = new QuotaBook();
  const proofFailures = new MemoryProofFailures();
  const service = () => {
    const { tasks, storage, config } = parts();
    const opener = new UploadOpener(tasks, new PartUrlIssuer(storage, config), storage, quotas, proofFailures, config);
    return new CreateUploadService(tasks, opener);
  };
  const create = async (principal: Principal, request: CreateUploadDto) => {
    const created = await service().create(principal, request, `trace-${randomUUID()}`, ORIGIN);
    return { ...created, multiParts: partUrlsOf(created.multiParts) };
  };
  const row = (id: string) => parts().prisma.file.findUniqueOrThrow({ where: { id } });
  const filesIn = (containerId: string) => parts().prisma.file.count({ where: { containerId } });

  it('creates an open task: a multipart upload under its token, the row UPLOADING, no part URLs unasked', async () => {
    const principal = principalFor();
    const request = dto({ sha256: sha256Hex(bytesOf(42)) });

    const created = await create(principal, request);

    assert.equal(created.fileName, request.fileName);
    assert.deepEqual(created.parentFolder, ['root']);
    assert.equal(created.containerId, principal.containerId);
    assert.equal(created.rapidUpload, false);
    assert.equal(created.exist, false);
    assert.deepEqual(created.multiParts, []);
    const stored = await row(created.fileId);
    assert.equal(stored.status, 'UPLOADING');
    assert.equal(stored.uploadId, created.uploadId);
    assert.equal(stored.declaredSha256, request.sha256);
    assert.equal(await uploadIsOpen(parts(), stored.storageKey, created.uploadId), true);
  });

  for (const autoRename of [undefined, 2]) {
    it(`renames on a name clash with a timestamp (autoRename ${autoRename ?? 'unset'})`, async () => {
      const principal = principalFor();
      const first = await create(principal, dto({ fileName: 'report.pdf', autoRename }));

      const second = await create(principal, dto({ fileName: 'report.pdf', autoRename }));

      assert.equal(first.fileName, 'report.pdf');
      assert.match(second.fileName, /^report_\d{14}\.pdf$/);
      assert.notEqual(second.fileId, first.fileId);
      assert.equal((await row(second.fileId)).fileName, second.fileName);
      assert.equal(await parts().tasks.isNameTaken(principal.containerId, 'root', second.fileName), true);
    });
  }

  it('refuses a name clash with 13000405 (autoRename 3), aborting the multipart upload it made', async () => {
    const principal = principalFor();
    await create(principal, dto({ fileName: 'report.pdf' }));
    const made = parts().storage.created.length;

    await rejectsWithCode(create(principal, dto({ fileName: 'report.pdf', autoRename: 3 })), ApiCode.DuplicateFileName);

    // the failed insert made a multipart upload first, and aborted it
    assert.equal(parts().storage.created.length, made + 1);
    const orphan = parts().storage.created.at(-1)!;
    assert.equal(await uploadIsOpen(parts(), orphan.key, orphan.uploadId), false);
    assert.equal(await filesIn(principal.containerId), 1);
  });

  it('answers the completed file of that name and digest without creating anything (autoRename 4)', async () => {
    const principal = principalFor();
    const bytes = bytesOf(42, 4);
    const existing = await completedFile(parts(), bytes, {
      ownerId: principal.userId,
      containerId: principal.containerId,
      fileName: 'same.bin',
    });
    const made = parts().storage.created.length;

    const created = await create(principal, dto({ fileName: 'same.bin', sha256: sha256Hex(bytes), autoRename: 4 }));

    assert.equal(created.exist, true);
    assert.equal(created.fileId, existing.id);
    assert.equal(created.uploadId, '');
    assert.equal(parts().storage.created.length, made);
    assert.equal(await filesIn(principal.containerId), 1);
  });

  it('renames as autoRename 2 does when the file of that name has another digest (autoRename 4)', async () => {
    const principal = principalFor();
    await completedFile(parts(), bytesOf(42, 5), {
      ownerId: principal.userId,
      containerId: principal.containerId,
      fileName: 'same.bin',
    });

    const created = await create(
      principal,
      dto({ fileName: 'same.bin', sha256: sha256Hex(bytesOf(42, 6)), autoRename: 4 }),
    );

    assert.equal(created.exist, false);
    assert.match(created.fileName, /^same_\d{14}\.bin$/);
    assert.equal((await row(created.fileId)).status, 'UPLOADING');
  });

  it('completes at once content its own container holds (flash upload), with no multipart upload', async () => {
    const principal = principalFor();
    const bytes = bytesOf(1000, 7);
    const held = await completedFile(parts(), bytes, { ownerId: principal.userId, containerId: principal.containerId });
    const made = parts().storage.created.length;

    const created = await create(principal, dto({ length: bytes.length, sha256: sha256Hex(bytes) }));

    assert.equal(created.rapidUpload, true);
    assert.equal(created.uploadId, '');
    assert.equal(parts().storage.created.length, made);
    const stored = await row(created.fileId);
    assert.equal(stored.status, 'COMPLETED');
    assert.equal(stored.rapidUpload, true);
    assert.equal(stored.actualSha256, sha256Hex(bytes));
    assert.equal(stored.storageKey, held.storageKey);
    assert.equal(await parts().prisma.outboxEvent.count({ where: { fileId: created.fileId } }), 1);
  });

  describe('content held in another container', () => {
    const bytes = bytesOf(1000, 8);
    // fixed credentials, so the other caller's proof is never the caller's by chance (checked below)
    const authorization = 'Bearer unit-caller-token';
    const othersProof = proofCodeFor('Bearer unit-other-token', bytes);
    const caller = () => principalFor({ proofSeedSource: authorization });
    let held: UploadFile;
    before(async () => {
      held = await completedFile(parts(), bytes);
    });

    it('is a flash upload with a valid proofCode', async () => {
      const principal = caller();

      const created = await create(
        principal,
        dto({ length: bytes.length, sha256: sha256Hex(bytes), proofCode: proofCodeFor(authorization, bytes) }),
      );

      assert.equal(created.rapidUpload, true);
      assert.equal(created.containerId, principal.containerId);
      const stored = await row(created.fileId);
      assert.equal(stored.status, 'COMPLETED');
      assert.equal(stored.containerId, principal.containerId);
      assert.equal(stored.storageKey, held.storageKey);
    });

    const notProven: { readonly name: string; readonly proofCode: string | undefined }[] = [
      { name: "a proofCode of another caller's credentials", proofCode: othersProof },
      { name: 'no proofCode', proofCode: undefined },
    ];
    for (const { name, proofCode } of notProven) {
      it(`is an ordinary upload with ${name}`, async () => {
        assert.notEqual(proofCode, proofCodeFor(authorization, bytes));
        const created = await create(caller(), dto({ length: bytes.length, sha256: sha256Hex(bytes), proofCode }));

        assert.equal(created.rapidUpload, false);
        assert.notEqual(created.uploadId, '');
        assert.equal((await row(created.fileId)).status, 'UPLOADING');
      });
    }
  });

  it("refuses a file that would exceed the container's quota with 13000311, creating nothing", async () => {
    const principal = principalFor();
    quotas.set(principal.containerId, { used: 90, limit: 100 });
    const made = parts().storage.created.length;

    await rejectsWithCode(create(principal, dto({ fileName: 'big.bin', length: 11 })), ApiCode.InsufficientSpace);

    assert.equal(parts().storage.created.length, made);
    assert.equal(await parts().tasks.isNameTaken(principal.containerId, 'root', 'big.bin'), false);
    // exactly what is left still fits
    const created = await create(principal, dto({ length: 10 }));
    assert.equal((await row(created.fileId)).status, 'UPLOADING');
  });

  it('signs, builds and serializes a long list a slice at a time: the answers of a short one, in order', async () => {
    const count = 2_345;
    const hashCtx = (n: number) => [1, 2, 3, 4, 5, 6, 7, n];
    const multiParts = Array.from({ length: count }, (_, i) => ({
      partNumber: i + 1,
      partSize: 5 * MIB,
      partOffset: i * 5 * MIB,
      ...(i % 2 === 1 ? { hashCtx: hashCtx(i) } : {}),
    }));
    const raw = await service().create(
      principalFor(),
      dto({ length: count * 5 * MIB, multiParts }),
      `trace-${randomUUID()}`,
      ORIGIN,
    );
    assert.ok(!Array.isArray(raw.multiParts), 'a long list comes serialized');
    const answers = partUrlsOf(raw.multiParts);
    assert.equal(answers.length, count);
    answers.forEach((answer, i) => {
      const { uploadUrl, expiresAt, ...rest } = answer;
      assert.deepEqual(
        Object.keys(answer),
        [
          'partNumber',
          'partSize',
          'partOffset',
          ...(i % 2 === 1 ? ['hashCtx'] : []),
          'partId',
          'uploadUrl',
          'uploadVia',
          'expiresAt',
        ],
        `the fields of part ${i + 1}, in their order`,
      );
      assert.deepEqual(rest, {
        partNumber: i + 1,
        partSize: 5 * MIB,
        partOffset: i * 5 * MIB,
        ...(i % 2 === 1 ? { hashCtx: hashCtx(i) } : {}),
        partId: `${raw.fileId}-${i + 1}`,
        uploadVia: 'service',
      });
      assert.ok(uploadUrl.startsWith(`${ORIGIN}/koodrive/ose/v1/files/multipart/parts/${raw.fileId}/${i + 1}?`));
      assert.equal(expiresAt, answers[0]!.expiresAt);
    });
  });

  it('plans the parts asked for at create, with their URLs (through the service, on the disk store)', async () => {
    const principal = principalFor();
    const hashCtx = [1, 2, 3, 4, 5, 6, 7, 8];

    const created = await create(
      principal,
      dto({
        length: 6 * MIB,
        multiParts: [
          { partNumber: 1, partSize: 5 * MIB },
          { partNumber: 2, partSize: MIB, partOffset: 5 * MIB, hashCtx },
        ],
      }),
    );

    assert.deepEqual(
      created.multiParts.map(({ partNumber, partSize, partOffset, uploadVia }) => ({
        partNumber,
        partSize,
        partOffset,
        uploadVia,
      })),
      [
        { partNumber: 1, partSize: 5 * MIB, partOffset: 0, uploadVia: 'service' },
        { partNumber: 2, partSize: MIB, partOffset: 5 * MIB, uploadVia: 'service' },
      ],
    );
    assert.deepEqual(created.multiParts[1]?.hashCtx, hashCtx);
    for (const part of created.multiParts) {
      assert.equal(part.partId, `${created.fileId}-${part.partNumber}`);
      assert.ok(part.uploadUrl.startsWith(`${ORIGIN}/koodrive/ose/v1/files/multipart/parts/${created.fileId}/`));
    }
    const plans = await parts().tasks.listPartPlans(created.fileId);
    assert.deepEqual(
      plans.map(({ partNumber, partSize, partOffset, viaServiceOnly }) => ({
        partNumber,
        partSize,
        partOffset,
        viaServiceOnly,
      })),
      [
        { partNumber: 1, partSize: 5 * MIB, partOffset: 0, viaServiceOnly: true },
        { partNumber: 2, partSize: MIB, partOffset: 5 * MIB, viaServiceOnly: true },
      ],
    );
    assert.notEqual(plans[1]?.hashCtx, null);
  });

  it('refuses parts that break the rules with 13000102 before it creates anything', async () => {
    const principal = principalFor();
    const made = parts().storage.created.length;

    // part 1 under 5 MiB, and not the last part
    await rejectsWithCode(
      create(principal, dto({ length: 6 * MIB, multiParts: [{ partNumber: 1, partSize: MIB, partOffset: 0 }] })),
      ApiCode.InvalidParameter,
    );

    assert.equal(parts().storage.created.length, made);
    assert.equal(await filesIn(principal.containerId), 0);
  });

  it('hands out the one part of uploadMode put at create', async () => {
    const created = await create(principalFor(), dto({ length: 42, uploadMode: 'put' }));

    assert.equal(created.multiParts.length, 1);
    const { uploadUrl, expiresAt, ...part } = created.multiParts[0]!;
    assert.deepEqual(part, {
      partNumber: 1,
      partSize: 42,
      partOffset: 0,
      partId: `${created.fileId}-1`,
      uploadVia: 'service',
    });
    assert.ok(uploadUrl.startsWith(`${ORIGIN}/koodrive/ose/v1/files/multipart/parts/${created.fileId}/1?`));
    assert.ok(Date.parse(expiresAt) > Date.now());
    const plans = await parts().tasks.listPartPlans(created.fileId);
    assert.deepEqual(
      plans.map((plan) => [plan.partNumber, plan.partSize, plan.partOffset]),
      [[1, 42, 0]],
    );
  });

  it('refuses uploadMode put with multiParts, or past its length limit (13000102)', async () => {
    const principal = principalFor();
    await rejectsWithCode(
      create(principal, dto({ uploadMode: 'put', multiParts: [{ partNumber: 1, partSize: 42 }] })),
      ApiCode.InvalidParameter,
    );
    await rejectsWithCode(
      create(principal, dto({ uploadMode: 'put', length: MAX_PUT_LENGTH + 1 })),
      ApiCode.InvalidParameter,
    );
    assert.equal(await filesIn(principal.containerId), 0);
  });
});
