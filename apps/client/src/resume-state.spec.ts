import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SHA256_INITIAL_STATE } from '@koodrive/hashing';
import { splitIntoParts } from '@koodrive/upload-client';
import { parseState, readState, type ResumeState, serializeState, StateFile, statePathFor } from './resume-state.js';
import { MIB } from '@koodrive/limits';

function sampleState(overrides: Partial<ResumeState> = {}): ResumeState {
  const size = 12 * MIB + 7;
  const partSize = 5 * MIB;
  return {
    url: 'http://127.0.0.1:3000',
    shareFolder: null,
    revisionOf: null,
    fileId: 'FiSample',
    fileName: 'a.bin',
    size,
    mtimeMs: 1_790_000_000_123.456,
    partSize,
    sha256: 'ab'.repeat(32),
    states: splitIntoParts(size, partSize).map((_, index) =>
      index === 0 ? SHA256_INITIAL_STATE : [index, 0xffffffff, 3, 4, 5, 6, 7, 0x80000000],
    ),
    done: [2],
    ...overrides,
  };
}

describe(parseState.name, () => {
  it('reads back what it wrote', () => {
    const state = sampleState({ done: [3, 1] });
    assert.deepEqual(parseState(serializeState(state)), { ...state, done: [1, 3] });
    const shared = sampleState({ shareFolder: 'sf-1' });
    assert.deepEqual(parseState(serializeState(shared)), shared);
    const version = sampleState({ revisionOf: 'FiOfTheFile' });
    assert.deepEqual(parseState(serializeState(version)), version);
  });

  it('reads a state written before shared folders as one without', () => {
    const stored = JSON.parse(serializeState(sampleState())) as Record<string, unknown>;
    assert.equal('shareFolder' in stored, false);
    assert.equal('revisionOf' in stored, false);
    assert.deepEqual(parseState(JSON.stringify(stored)), sampleState());
  });

  it('explains, rather than throws, what it cannot use', () => {
    const good = JSON.parse(serializeState(sampleState())) as Record<string, unknown>;
    const cases: [string, string][] = [
      ['{"kind":"koodrive-upload-st', 'not JSON'],
      ['', 'not JSON'],
      ['[1,2]', 'not a JSON object'],
      ['null', 'not a JSON object'],
      [JSON.stringify({ name: 'my-package', version: '1.0.0' }), 'not a koodrive upload state'],
      [JSON.stringify({ ...good, version: 2 }), 'state version 2, this client reads 1'],
      [JSON.stringify({ ...good, version: 0 }), 'state version 0, this client reads 1'],
      [JSON.stringify({ ...good, fileId: 7 }), 'url, fileId or fileName missing'],
      [JSON.stringify({ ...good, shareFolder: 7 }), 'shareFolder is not a string'],
      [JSON.stringify({ ...good, revisionOf: 7 }), 'revisionOf is not a string'],
      [JSON.stringify({ ...good, size: -1 }), 'size, mtimeMs or partSize missing'],
      [JSON.stringify({ ...good, sha256: 'xyz' }), 'sha256 missing'],
      [JSON.stringify({ ...good, partSize: 1 }), 'more than 10000 parts'],
      [JSON.stringify({ ...good, states: (good.states as string[]).slice(1) }), '3 part states expected'],
      [JSON.stringify({ ...good, states: ['00', '11', '22'] }), "part 1's state is not 64 hex digits"],
      [JSON.stringify({ ...good, done: [4] }), 'done parts missing or out of range'],
      [JSON.stringify({ ...good, done: 'all' }), 'done parts missing or out of range'],
    ];
    for (const [text, reason] of cases) {
      assert.equal(parseState(text), reason, text.slice(0, 60));
    }
  });
});

describe(readState.name, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koodrive-state-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds the state of this file on this server', async () => {
    const state = sampleState();
    const path = statePathFor(join(dir, 'a.bin'));
    assert.match(path, /a\.bin\.koodrive-upload\.json$/);
    assert.deepEqual(await readState(path, state), { kind: 'none' });
    await writeFile(path, serializeState(state));
    assert.deepEqual(await readState(path, state), { kind: 'found', state });
  });

  it('ignores a state for another server or an older version of the file', async () => {
    const state = sampleState();
    const path = join(dir, 'b.bin.koodrive-upload.json');
    await writeFile(path, serializeState(state));
    const other = await readState(path, { ...state, url: 'http://elsewhere' });
    assert.equal(other.kind, 'ignored');
    const touched = await readState(path, { ...state, mtimeMs: state.mtimeMs + 1 });
    assert.deepEqual(touched, { kind: 'ignored', reason: 'the file changed since (size or modification time)' });
    const grown = await readState(path, { ...state, size: state.size + 1 });
    assert.equal(grown.kind, 'ignored');
  });

  it('ignores a state for another shared folder, or for none', async () => {
    const path = join(dir, 'shared.bin.koodrive-upload.json');
    const state = sampleState({ shareFolder: 'sf-1' });
    await writeFile(path, serializeState(state));
    assert.deepEqual(await readState(path, state), { kind: 'found', state });
    assert.deepEqual(await readState(path, { ...state, shareFolder: null }), {
      kind: 'ignored',
      reason: 'it is for an upload into shared folder sf-1',
    });
    await writeFile(path, serializeState(sampleState()));
    assert.deepEqual(await readState(path, state), {
      kind: 'ignored',
      reason: 'it is for an upload outside any shared folder',
    });
  });

  it('ignores a state of a new file for a new version of one, and the other way round', async () => {
    const path = join(dir, 'version.bin.koodrive-upload.json');
    const version = sampleState({ revisionOf: 'FiOfTheFile' });
    await writeFile(path, serializeState(version));
    assert.deepEqual(await readState(path, version), { kind: 'found', state: version });
    assert.deepEqual(await readState(path, { ...version, revisionOf: null }), {
      kind: 'ignored',
      reason: 'it is for an upload of a new version of FiOfTheFile',
    });
    await writeFile(path, serializeState(sampleState()));
    assert.deepEqual(await readState(path, version), { kind: 'ignored', reason: 'it is for an upload of a new file' });
  });

  it('ignores a corrupt or foreign state file', async () => {
    const path = join(dir, 'c.bin.koodrive-upload.json');
    await writeFile(path, '\u0000\u0001garbage');
    assert.deepEqual(await readState(path, sampleState()), { kind: 'ignored', reason: 'not JSON' });
    await writeFile(path, '{"kind":"something-else"}');
    assert.deepEqual(await readState(path, sampleState()), { kind: 'ignored', reason: 'not a koodrive upload state' });
  });
});

describe(StateFile.name, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koodrive-state-file-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the done parts on disk, replacing the file whole, and removes it', async () => {
    const path = join(dir, 'd.bin.koodrive-upload.json');
    const { url, shareFolder, revisionOf, size, mtimeMs, ...task } = sampleState({ done: [] });
    const file = new StateFile(path, { url, shareFolder, revisionOf, size, mtimeMs });
    assert.equal(file.kept, false);
    assert.equal(await file.load(), undefined);
    await file.save(task);
    assert.equal(file.kept, true);
    for (const partNumber of [3, 1, 2, 1]) {
      file.partDone(partNumber);
    }
    await file.flush();
    const stored = parseState(await readFile(path, 'utf8'));
    assert.notEqual(typeof stored, 'string');
    assert.deepEqual((stored as ResumeState).done, [1, 2, 3]);
    assert.deepEqual(stored, sampleState({ done: [1, 2, 3] }));
    // no temporary files left beside it
    assert.deepEqual(await readdir(dir), ['d.bin.koodrive-upload.json']);
    await file.remove();
    file.partDone(2);
    await file.flush();
    assert.deepEqual(await readdir(dir), []);
    assert.equal(file.kept, false);
  });

  it('answers the state it was found with, for the core to go on with', async () => {
    const found = sampleState();
    const file = new StateFile(join(dir, 'e.bin.koodrive-upload.json'), found, found);
    assert.equal(file.kept, true);
    assert.deepEqual(await file.load(), found);
    assert.deepEqual([...file.doneParts], [2]);
  });
});
