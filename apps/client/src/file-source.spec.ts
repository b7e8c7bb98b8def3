import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SHA256_INITIAL_STATE, Sha256State } from '@koodrive/hashing';
import { MIB } from '@koodrive/limits';
import { splitIntoParts } from '@koodrive/upload-client';
import { FileChangedError, NodeFileSource } from './file-source.js';

describe(NodeFileSource.name, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koodrive-source-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function sourceOf(data: Buffer, name: string, size = data.length): Promise<NodeFileSource> {
    const path = join(dir, name);
    await writeFile(path, data);
    return new NodeFileSource(path, size, (await stat(path)).mtimeMs, name);
  }

  it("gives the file's SHA-256 and the state before each part, in one pass", async () => {
    // part boundaries that fall inside the stream's 1 MiB chunks
    const partSize = 5 * MIB + 64 * 3;
    const data = randomBytes(3 * partSize + 1000);
    const path = join(dir, 'data.bin');
    await writeFile(path, data);
    let read = 0;
    const events: string[] = [];
    const source = new NodeFileSource(path, data.length, (await stat(path)).mtimeMs, 'data.bin', {
      start: () => events.push('start'),
      bytes: (count) => (read += count),
      end: () => events.push('end'),
    });
    const states: (readonly number[])[] = [];
    const sha256 = await source.hash(
      splitIntoParts(data.length, partSize),
      (index, words) => (states[index] = words),
      new AbortController().signal,
    );
    assert.deepEqual(events, ['start', 'end']);
    assert.equal(read, data.length);
    assert.equal(sha256, createHash('sha256').update(data).digest('hex'));
    assert.equal(states.length, 4);
    assert.deepEqual(states[0], SHA256_INITIAL_STATE);
    for (const [index, words] of states.entries()) {
      // each part's words, continued from its offset over the rest of the file, give the file's digest
      const offset = index * partSize;
      const rest = Sha256State.from({ h: [...words], offset })
        .update(data.subarray(offset))
        .hexDigest();
      assert.equal(rest, sha256, `part ${index + 1}`);
    }
  });

  it('hashes an empty file', async () => {
    const source = await sourceOf(Buffer.alloc(0), 'empty.bin');
    const states: (readonly number[])[] = [];
    const sha256 = await source.hash(
      splitIntoParts(0, 5 * MIB),
      (index, words) => (states[index] = words),
      new AbortController().signal,
    );
    assert.equal(sha256, createHash('sha256').digest('hex'));
    assert.deepEqual(states, [SHA256_INITIAL_STATE]);
  });

  it('notices a file that is not the planned length, or that changed since', async () => {
    const signal = new AbortController().signal;
    const short = await sourceOf(randomBytes(100), 'short.bin', 200);
    await assert.rejects(
      short.hash(splitIntoParts(200, 5 * MIB), () => undefined, signal),
      /shrank/,
    );
    const long = await sourceOf(randomBytes(100), 'long.bin', 50);
    await assert.rejects(
      long.hash(splitIntoParts(50, 5 * MIB), () => undefined, signal),
      /grew/,
    );
    const touched = await sourceOf(randomBytes(100), 'touched.bin');
    await touched.assertUnchanged();
    await utimes(join(dir, 'touched.bin'), new Date(), new Date(Date.now() + 5000));
    await assert.rejects(touched.assertUnchanged(), FileChangedError);
  });
});
