// The upload client (apps/client) as a user runs it: the compiled main.js in a child process
// against the real app, with Ctrl-C (SIGINT) in the middle of an upload and a second run resuming it.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { newUser, sha256Hex, type TestUser, until, useTestApp } from '../support/harness.ts';
import { assertCompletedOnce } from '../support/promises.ts';

const MIB = 1024 * 1024;
// .out/test/e2e → .out/apps/client/src/main.js (the same out dir as this spec)
const CLIENT = fileURLToPath(new URL('../../apps/client/src/main.js', import.meta.url));

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface Running {
  readonly child: ChildProcess;
  readonly finished: Promise<Finished>;
}

function startClient(args: readonly string[], env: Readonly<Record<string, string | undefined>>): Running {
  const child = spawn(process.execPath, [CLIENT, ...args], {
    env: { ...process.env, KOODRIVE_CLIENT_PART_DELAY_MS: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const finished = once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, finished };
}

function field(stdout: string, name: string): string {
  const match = new RegExp(`^${name}: (.*)$`, 'm').exec(stdout);
  assert.ok(match, `no ${name} in:\n${stdout}`);
  return match[1]!;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

interface StoredState {
  readonly fileId: string;
  readonly done: number[];
}

async function storedState(path: string): Promise<StoredState> {
  return JSON.parse(await readFile(path, 'utf8')) as StoredState;
}

describe('koodrive client (put)', () => {
  const app = useTestApp();
  let user: TestUser;
  let dir: string;
  let env: () => Record<string, string>;

  before(async () => {
    user = await newUser();
    dir = await mkdtemp(join(tmpdir(), 'koodrive-client-'));
    env = () => ({ KOODRIVE_URL: app().baseUrl, KOODRIVE_TOKEN: user.token });
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // A random file (no rapid upload from an earlier run's identical content).
  async function newFile(name: string, length: number): Promise<{ path: string; data: Buffer }> {
    const data = randomBytes(length);
    const path = join(dir, name);
    await writeFile(path, data);
    return { path, data };
  }

  // Runs the client until at least one part is recorded done, then interrupts it as Ctrl-C would.
  async function interruptedUpload(path: string, token = user.token): Promise<StoredState> {
    const statePath = `${path}.koodrive-upload.json`;
    const run = startClient(['put', path, '--part-size', '5MiB', '--parallel', '1'], {
      ...env(),
      KOODRIVE_TOKEN: token,
      KOODRIVE_CLIENT_PART_DELAY_MS: '500',
    });
    try {
      await until('a part is uploaded', async () =>
        (await storedState(statePath)).done.length > 0 ? true : undefined,
      );
    } catch (error) {
      run.child.kill('SIGKILL');
      const { stderr } = await run.finished;
      throw new Error(`${(error as Error).message}; the client said:\n${stderr}`, { cause: error });
    }
    run.child.kill('SIGINT');
    const result = await run.finished;
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, /^interrupted: \d part\(s\) uploaded, progress kept in /m);
    assert.equal(result.stdout, '');
    return storedState(statePath);
  }

  it('uploads a file in parallel parts and prints the verified result', async () => {
    const { path, data } = await newFile('whole.bin', 24 * MIB + 4321);
    const result = await startClient(['put', path, '--part-size', '5MiB', '--parallel', '3'], env()).finished;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(field(result.stdout, 'code'), '0');
    assert.equal(field(result.stdout, 'sha256'), sha256Hex(data));
    assert.equal(field(result.stdout, 'length'), String(data.length));
    assert.equal(field(result.stdout, 'fileName'), 'whole.bin');
    assert.equal(field(result.stdout, 'parts'), '5 (uploaded 5, resumed 0)');
    assert.match(field(result.stdout, 'traceId'), /^[A-Za-z0-9_-]{1,64}$/);
    await assertCompletedOnce(field(result.stdout, 'fileId'), data);
    assert.equal(await exists(`${path}.koodrive-upload.json`), false);
    // not a terminal: plain progress lines on stderr, no redrawn line
    assert.match(result.stderr, /^hashing 100% 24\.0 MiB\/24\.0 MiB /m);
    assert.match(result.stderr, /^uploading [1-9]\d% /m);
    assert.match(result.stderr, /^uploading 100% 24\.0 MiB\/24\.0 MiB .* ETA 0:00$/m);
    assert.doesNotMatch(result.stderr, /\r/);
  });

  it('stops on SIGINT leaving a state file, and the same command then uploads only the remaining parts', async () => {
    const { path, data } = await newFile('resumed.bin', 24 * MIB);
    const interrupted = await interruptedUpload(path);
    const doneBefore = interrupted.done.length;
    assert.ok(doneBefore >= 1 && doneBefore < 5, `done parts: ${interrupted.done.join(',')}`);

    const result = await startClient(['put', path, '--part-size', '5MiB', '--parallel', '3'], env()).finished;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(field(result.stdout, 'fileId'), interrupted.fileId);
    assert.equal(field(result.stdout, 'parts'), `5 (uploaded ${5 - doneBefore}, resumed ${doneBefore})`);
    assert.match(
      result.stderr,
      new RegExp(`^resuming ${interrupted.fileId}: ${doneBefore} of 5 parts already uploaded`, 'm'),
    );
    // the resumed bytes count as done from the start of the progress
    assert.match(result.stderr, new RegExp(`^uploading ${doneBefore * 20}% `, 'm'));
    assert.equal(field(result.stdout, 'sha256'), sha256Hex(data));
    await assertCompletedOnce(interrupted.fileId, data);
    assert.equal(await exists(`${path}.koodrive-upload.json`), false);
  });

  it('starts over when the service does not know the stored fileId (expired, or another user)', async () => {
    const { path, data } = await newFile('restarted.bin', 11 * MIB);
    const interrupted = await interruptedUpload(path);
    const other = await newUser();
    const result = await startClient(['put', path, '--part-size', '5MiB'], {
      ...env(),
      KOODRIVE_TOKEN: other.token,
    }).finished;
    assert.equal(result.code, 0, result.stderr);
    const fileId = field(result.stdout, 'fileId');
    assert.notEqual(fileId, interrupted.fileId);
    assert.match(result.stderr, /no longer has upload .*; starting over with a new upload/);
    // the file is the one hashed before: its hashes are reused
    assert.doesNotMatch(result.stderr, /^hashing /m);
    assert.equal(field(result.stdout, 'parts'), '3 (uploaded 3, resumed 0)');
    await assertCompletedOnce(fileId, data);
  });

  it('ignores a corrupt state file and uploads from the start', async () => {
    const { path, data } = await newFile('corrupt-state.bin', 6 * MIB);
    await writeFile(`${path}.koodrive-upload.json`, '{"kind":"koodrive-upload-state","vers');
    const result = await startClient(['put', path, '--part-size', '5MiB'], env()).finished;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^ignoring .*\.koodrive-upload\.json: not JSON; starting over$/m);
    await assertCompletedOnce(field(result.stdout, 'fileId'), data);
    assert.equal(await exists(`${path}.koodrive-upload.json`), false);
  });

  it('exits 2 with a clear message without a token', async () => {
    const result = await startClient(['put', join(dir, 'whole.bin')], {
      KOODRIVE_URL: app().baseUrl,
      KOODRIVE_TOKEN: undefined,
    }).finished;
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error: no access token: pass --token or set KOODRIVE_TOKEN$/m);
    assert.equal(result.stdout, '');
  });
});
