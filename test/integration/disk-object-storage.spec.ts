import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { DiskObjectStorage, partBodyOf } from '@koodrive/storage';
import { InvalidPartsError, ObjectNotFoundError, UploadNotFoundError } from '@koodrive/storage';
import { sha256OfStream } from '@koodrive/verification';
import { testBytes, until } from '../support/harness.ts';
import { objectStorageContract } from '../support/object-storage-contract.ts';
import { MIB } from '@koodrive/limits';

function md5Etag(bytes: Buffer): string {
  return `"${createHash('md5').update(bytes).digest('hex')}"`;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

describe(DiskObjectStorage.name, () => {
  let dir: string;
  let storage: DiskObjectStorage;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'disk-object-storage-'));
    storage = await DiskObjectStorage.open(path.join(dir, 'objects'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const put = (key: string, uploadId: string, partNumber: number, bytes: Buffer): Promise<string> =>
    storage.uploadPart(key, uploadId, partNumber, partBodyOf(Readable.from([bytes]), bytes.length), bytes.length);
  const uploadDir = (uploadId: string): string => path.join(storage.root, '.uploads', uploadId);

  // parts go through the service, which streams them to uploadPart
  objectStorageContract(
    () => storage,
    async (key, uploadId, partNumber, bytes) => {
      await put(key, uploadId, partNumber, bytes);
    },
  );

  it('never presigns, and says so', async () => {
    assert.equal(storage.presignsParts, false);
    await assert.rejects(storage.presignUploadParts('test/x', 'u', [1], 600), /no presigned part URLs/);
  });

  it("answers a part's ETag as S3 does: its quoted MD5", async () => {
    const key = `test/${randomUUID()}`;
    const uploadId = await storage.createMultipartUpload(key, {});
    const bytes = testBytes(1000, 3);
    assert.equal(await put(key, uploadId, 7, bytes), md5Etag(bytes));
    assert.deepEqual(await storage.listParts(key, uploadId), [{ partNumber: 7, size: 1000, etag: md5Etag(bytes) }]);
    await storage.abortMultipartUpload(key, uploadId);
  });

  it('replaces a re-uploaded part atomically: the old version until the new one is whole', async () => {
    const key = `test/${randomUUID()}`;
    const uploadId = await storage.createMultipartUpload(key, {});
    const first = testBytes(6 * MIB, 1);
    const second = testBytes(6 * MIB, 2);
    await put(key, uploadId, 1, first);

    const body = new PassThrough();
    const uploading = storage.uploadPart(key, uploadId, 1, partBodyOf(body, second.length), second.length);
    body.write(second.subarray(0, 3 * MIB));
    // half of the new version is on disk (a second data file of 3 MiB)...
    await until('half the new version is written', async () => {
      const dir = uploadDir(uploadId);
      const sizes = await Promise.all(
        (await readdir(dir))
          .filter((name) => name.startsWith('data-'))
          .map(async (name) => (await stat(path.join(dir, name))).size),
      );
      return sizes.length === 2 && sizes.includes(3 * MIB) ? true : undefined;
    });
    // ...yet readers still see the whole old one
    assert.deepEqual(await storage.listParts(key, uploadId), [
      { partNumber: 1, size: first.length, etag: md5Etag(first) },
    ]);
    body.end(second.subarray(3 * MIB));
    assert.equal(await uploading, md5Etag(second));

    assert.deepEqual(await storage.listParts(key, uploadId), [
      { partNumber: 1, size: second.length, etag: md5Etag(second) },
    ]);
    // the old version's bytes are gone with it
    assert.deepEqual((await readdir(uploadDir(uploadId))).filter((name) => name.startsWith('data-')).length, 1);
    await storage.completeMultipartUpload(key, uploadId, await storage.listParts(key, uploadId));
    assert.ok((await readAll(await storage.readObject(key))).equals(second));
    await storage.deleteObject(key);
  });

  it('keeps no part from a body shorter or longer than its size', async () => {
    const key = `test/${randomUUID()}`;
    const uploadId = await storage.createMultipartUpload(key, {});
    await assert.rejects(
      storage.uploadPart(key, uploadId, 1, partBodyOf(Readable.from([Buffer.alloc(3)]), 5), 5),
      /ended after 3 of 5/,
    );
    await assert.rejects(
      storage.uploadPart(key, uploadId, 2, partBodyOf(Readable.from([Buffer.alloc(9)]), 5), 5),
      /longer than 5/,
    );
    const failing = Readable.from(
      (async function* () {
        yield Buffer.alloc(4);
        await Promise.resolve();
        throw new Error('client went away');
      })(),
    );
    await assert.rejects(storage.uploadPart(key, uploadId, 3, partBodyOf(failing, 5), 5), /client went away/);
    assert.deepEqual(await storage.listParts(key, uploadId), []);
    assert.deepEqual(await readdir(uploadDir(uploadId)), ['upload.json']);
    await storage.abortMultipartUpload(key, uploadId);
  });

  it('refuses a part list naming a part that is not there, with another ETag, out of order or too small', async () => {
    const key = `test/${randomUUID()}`;
    const uploadId = await storage.createMultipartUpload(key, {});
    const big = testBytes(5 * MIB, 4);
    const small = testBytes(10, 5);
    await put(key, uploadId, 1, big);
    await put(key, uploadId, 2, small);
    const [one, two] = await storage.listParts(key, uploadId);
    assert.ok(one !== undefined && two !== undefined);
    await assert.rejects(
      storage.completeMultipartUpload(key, uploadId, [one, { ...two, etag: md5Etag(big) }]),
      InvalidPartsError,
    );
    await assert.rejects(
      storage.completeMultipartUpload(key, uploadId, [one, two, { partNumber: 3, size: 1, etag: two.etag }]),
      InvalidPartsError,
    );
    await assert.rejects(storage.completeMultipartUpload(key, uploadId, [two, one]), InvalidPartsError);
    // every part but the last has at least 5 MiB (S3's EntityTooSmall)
    await put(key, uploadId, 3, small);
    const three = (await storage.listParts(key, uploadId))[2];
    assert.ok(three !== undefined);
    await assert.rejects(storage.completeMultipartUpload(key, uploadId, [one, two, three]), InvalidPartsError);
    await assert.rejects(storage.completeMultipartUpload(key, uploadId, []), InvalidPartsError);
    // a refused list leaves the upload open and no object
    assert.equal(await storage.headObject(key), null);
    // the ETag may come quoted or not, as S3 accepts it; a part left out is dropped
    await storage.completeMultipartUpload(key, uploadId, [one, { ...two, etag: two.etag.replaceAll('"', '') }]);
    assert.equal((await storage.headObject(key))?.size, big.length + small.length);
    await storage.deleteObject(key);
  });

  it("completes to an object whose SHA-256 is the concatenated parts', once", async () => {
    const key = `test/${randomUUID()}`;
    const uploadId = await storage.createMultipartUpload(key, { a: 'b' });
    const parts = [testBytes(5 * MIB, 6), testBytes(5 * MIB, 7), testBytes(12345, 8)];
    // uploaded out of order, as clients do
    await Promise.all([
      put(key, uploadId, 3, parts[2]!),
      put(key, uploadId, 1, parts[0]!),
      put(key, uploadId, 2, parts[1]!),
    ]);
    // stale temp files (a crash's leftovers) change nothing
    await writeFile(path.join(uploadDir(uploadId), '.part-2.json.dead.tmp'), 'garbage');
    await writeFile(path.join(uploadDir(uploadId), 'data-2-dead'), 'garbage');
    const listed = await storage.listParts(key, uploadId);
    await storage.completeMultipartUpload(key, uploadId, listed);
    const expected = createHash('sha256').update(Buffer.concat(parts)).digest('hex');
    assert.equal((await sha256OfStream(await storage.readObject(key))).sha256, expected);
    assert.deepEqual(await storage.headObject(key), { size: 10 * MIB + 12345, metadata: { a: 'b' } });
    // the upload is gone: completing it again is UploadNotFoundError (as RGW answers), the object stays
    await assert.rejects(storage.completeMultipartUpload(key, uploadId, listed), UploadNotFoundError);
    await assert.rejects(storage.listParts(key, uploadId), UploadNotFoundError);
    await assert.rejects(put(key, uploadId, 4, Buffer.alloc(1)), UploadNotFoundError);
    await storage.abortMultipartUpload(key, uploadId);
    assert.deepEqual(await readdir(path.join(storage.root, '.uploads')), []);
    assert.equal((await storage.headObject(key))?.size, 10 * MIB + 12345);
    // only the object and its metadata under the key's directory: no temp file is left
    assert.deepEqual((await readdir(path.dirname(path.join(storage.root, key)))).sort(), [
      `.${path.basename(key)}.meta.json`,
      path.basename(key),
    ]);
    await storage.deleteObject(key);
  });

  it('reads an inclusive byte range of an object, its end clipped to the object', async () => {
    const key = `test/${randomUUID()}`;
    const uploadId = await storage.createMultipartUpload(key, {});
    const data = testBytes(1000, 9);
    await put(key, uploadId, 1, data);
    await storage.completeMultipartUpload(key, uploadId, await storage.listParts(key, uploadId));
    assert.ok((await readAll(await storage.readObject(key, { start: 10, end: 19 }))).equals(data.subarray(10, 20)));
    assert.ok((await readAll(await storage.readObject(key, { start: 990, end: 2000 }))).equals(data.subarray(990)));
    const first = Buffer.alloc(1);
    await storage.readInto(key, 0, first);
    assert.ok(first.equals(data.subarray(0, 1)));
    await assert.rejects(storage.readObject(key, { start: 1000, end: 1001 }), RangeError);
    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(storage.readInto(key, 0, Buffer.alloc(10), { signal: aborted.signal }), {
      name: 'AbortError',
    });
    await assert.rejects(storage.readInto(key, 995, Buffer.alloc(10)), RangeError);
    await storage.deleteObject(key);
    await assert.rejects(storage.readObject(key), ObjectNotFoundError);
  });

  it('stores an empty object', async () => {
    const key = `test/${randomUUID()}`;
    const uploadId = await storage.createMultipartUpload(key, {});
    await put(key, uploadId, 1, Buffer.alloc(0));
    await storage.completeMultipartUpload(key, uploadId, await storage.listParts(key, uploadId));
    assert.deepEqual(await storage.headObject(key), { size: 0, metadata: {} });
    assert.equal((await readAll(await storage.readObject(key))).length, 0);
    await storage.deleteObject(key);
  });

  it('refuses keys that could leave its root or name its own files', async () => {
    for (const key of [
      'test/../../escape',
      '../escape',
      '/etc/passwd',
      'test//x',
      'test/./x',
      '.uploads/x',
      'a\\b',
      '',
    ]) {
      await assert.rejects(storage.createMultipartUpload(key, {}), RangeError, key);
      await assert.rejects(storage.headObject(key), RangeError, key);
      await assert.rejects(storage.readObject(key), RangeError, key);
      await assert.rejects(storage.deleteObject(key), RangeError, key);
    }
    assert.deepEqual((await readdir(dir)).sort(), ['objects']);
  });

  it('answers a missing object as S3 does, and treats a directory of keys as none', async () => {
    const prefix = `test/${randomUUID()}`;
    await mkdir(path.join(storage.root, prefix), { recursive: true });
    for (const key of [prefix, `${prefix}/absent`, `${prefix}/absent/deeper`]) {
      assert.equal(await storage.headObject(key), null);
      await assert.rejects(storage.readObject(key), ObjectNotFoundError);
      await assert.rejects(storage.readInto(key, 0, Buffer.alloc(2)), ObjectNotFoundError);
      await storage.deleteObject(key);
    }
  });

  it('refuses an upload id of another key, and aborts quietly', async () => {
    const key = `test/${randomUUID()}`;
    const uploadId = await storage.createMultipartUpload(key, {});
    await assert.rejects(storage.listParts(`test/${randomUUID()}`, uploadId), UploadNotFoundError);
    await assert.rejects(storage.listParts(key, '../../x'), UploadNotFoundError);
    await storage.abortMultipartUpload(`test/${randomUUID()}`, uploadId);
    assert.deepEqual(await storage.listParts(key, uploadId), []);
    await storage.abortMultipartUpload(key, uploadId);
    await storage.abortMultipartUpload(key, uploadId);
    await assert.rejects(storage.listParts(key, uploadId), UploadNotFoundError);
  });

  it('pings while its root is there', async () => {
    await storage.ping();
    const gone = new DiskObjectStorage(path.join(dir, 'never-created'));
    await assert.rejects(gone.ping(), { name: 'DependencyUnavailableError' });
  });
});
