import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SHA256_INITIAL_STATE, Sha256State } from '@koodrive/hashing';
import { hashCtxOf, splitIntoParts, scanFile } from './file-plan.js';
import { MIB } from '@koodrive/limits';

describe(splitIntoParts.name, () => {
  it('cuts a file into whole parts and a smaller last one', () => {
    assert.deepEqual(splitIntoParts(12 * MIB + 5, 5 * MIB), [
      { partNumber: 1, partOffset: 0, partSize: 5 * MIB },
      { partNumber: 2, partOffset: 5 * MIB, partSize: 5 * MIB },
      { partNumber: 3, partOffset: 10 * MIB, partSize: 2 * MIB + 5 },
    ]);
  });

  it('has no empty last part when the length is a multiple of the part size', () => {
    assert.deepEqual(
      splitIntoParts(10 * MIB, 5 * MIB).map((part) => part.partSize),
      [5 * MIB, 5 * MIB],
    );
    assert.deepEqual(splitIntoParts(3, 5 * MIB), [{ partNumber: 1, partOffset: 0, partSize: 3 }]);
  });

  it('makes an empty file one empty part', () => {
    assert.deepEqual(splitIntoParts(0, 5 * MIB), [{ partNumber: 1, partOffset: 0, partSize: 0 }]);
  });

  it('refuses nonsense', () => {
    assert.throws(() => splitIntoParts(-1, 5 * MIB), RangeError);
    assert.throws(() => splitIntoParts(10, 0), RangeError);
  });
});

describe(scanFile.name, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koodrive-plan-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("gives the file's SHA-256 and the state before each part, in one pass", async () => {
    // part boundaries that fall inside the stream's 1 MiB chunks
    const partSize = 5 * MIB + 64 * 3;
    const data = randomBytes(3 * partSize + 1000);
    const path = join(dir, 'data.bin');
    await writeFile(path, data);
    let read = 0;
    const plan = await scanFile(path, splitIntoParts(data.length, partSize), { onBytes: (bytes) => (read += bytes) });
    assert.equal(read, data.length);
    assert.equal(plan.sha256, createHash('sha256').update(data).digest('hex'));
    assert.equal(plan.parts.length, 4);
    assert.deepEqual(plan.parts[0]!.state, { h: SHA256_INITIAL_STATE, offset: 0 });
    // part 1 is sent without a hashCtx (it starts from SHA-256's initial state)
    assert.equal(hashCtxOf(plan.parts[0]!), undefined);
    for (const part of plan.parts.slice(1)) {
      // each part's words, continued from its offset over the rest of the file, give the file's digest
      const words = hashCtxOf(part);
      assert.ok(words !== undefined && words.length === 8, `part ${part.partNumber}`);
      const state = { h: [...words], offset: part.partOffset };
      const rest = Sha256State.from(state).update(data.subarray(part.partOffset)).hexDigest();
      assert.equal(rest, plan.sha256, `part ${part.partNumber}`);
    }
  });

  it('hashes an empty file', async () => {
    const path = join(dir, 'empty.bin');
    await writeFile(path, '');
    const plan = await scanFile(path, splitIntoParts(0, 5 * MIB));
    assert.equal(plan.sha256, createHash('sha256').digest('hex'));
    assert.deepEqual(plan.parts[0]!.state, { h: SHA256_INITIAL_STATE, offset: 0 });
  });

  it('notices a file that is not the planned length', async () => {
    const path = join(dir, 'short.bin');
    await writeFile(path, randomBytes(100));
    await assert.rejects(scanFile(path, splitIntoParts(200, 5 * MIB)), /shrank/);
    await assert.rejects(scanFile(path, splitIntoParts(50, 5 * MIB)), /grew/);
  });
});
