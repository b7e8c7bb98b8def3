// The upload client (apps/client) as a user runs it: the compiled main.js in a child process
// against the real app, with Ctrl-C (SIGINT) in the middle of an upload and a second run resuming it,
// under a session token or app authentication, into the user's own space or a shared folder.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { access, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { fileRow, newUser, sha256Hex, type TestUser, testRedis, until, useTestApp } from '../support/harness.ts';
import { assertCompletedOnce } from '../support/promises.ts';
import { MIB } from '@koodrive/limits';

const API = '/koodrive/ose/v1/files';
const REVISION_API = '/koodrive/ose/v1/revision';
const APP_ID = 'app-1';
const APP_SECRET = '0123456789abcdef0123';
// .out/test/e2e → .out/apps/client/src/main.js (the same out dir as this spec)
const CLIENT = fileURLToPath(new URL('../../apps/client/src/main.js', import.meta.url));
// the repository (.out/test/e2e → the root), whose package.json's bin runs the client from source
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface Running {
  readonly child: ChildProcess;
  readonly finished: Promise<Finished>;
}

function startClient(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  // how it is started, and where: the compiled client in this directory by default
  how: { readonly command?: string; readonly cwd?: string } = {},
): Running {
  const [command, commandArgs] = how.command === undefined ? [process.execPath, [CLIENT]] : [how.command, []];
  const child = spawn(command, [...commandArgs, ...args], {
    cwd: how.cwd,
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
  const app = useTestApp({
    APP_CREDENTIALS: JSON.stringify({ [APP_ID]: { secret: APP_SECRET, scopes: ['file.upload'] } }),
  });
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

  // The paths of the API calls the app receives while `run` runs (a listener beside Fastify's on its
  // HTTP server: hooks cannot be added to a listening Fastify).
  async function apiCallsDuring<T>(run: () => Promise<T>): Promise<{ result: T; calls: string[] }> {
    const calls: string[] = [];
    const server = app().app.getHttpServer();
    const listener = (request: IncomingMessage): void => {
      if (request.url?.startsWith(API) === true) {
        calls.push(request.url.slice(API.length + 1));
      } else if (request.url?.startsWith(REVISION_API) === true) {
        calls.push(request.url.slice(REVISION_API.length - 'revision'.length));
      }
    };
    server.on('request', listener);
    try {
      return { result: await run(), calls };
    } finally {
      server.off('request', listener);
    }
  }

  // Runs the client until at least one part is recorded done, then interrupts it as Ctrl-C would.
  async function interruptedUpload(
    path: string,
    token = user.token,
    extra: readonly string[] = [],
  ): Promise<StoredState> {
    const statePath = `${path}.koodrive-upload.json`;
    const run = startClient(['put', path, '--part-size', '5MiB', '--parallel', '1', ...extra], {
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
    const { result, calls } = await apiCallsDuring(
      () => startClient(['put', path, '--part-size', '5MiB', '--parallel', '3'], env()).finished,
    );
    assert.equal(result.code, 0, result.stderr);
    // create's answer carried every part's URL: no uploadUrl call
    assert.deepEqual(calls, ['create', 'complete']);
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

    const { result, calls } = await apiCallsDuring(
      () => startClient(['put', path, '--part-size', '5MiB', '--parallel', '3'], env()).finished,
    );
    assert.equal(result.code, 0, result.stderr);
    // a resumed run has no create answer: it asks its URLs afresh
    assert.deepEqual(calls, ['multipart/uploadUrl', 'complete']);
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

  it('uploads a new version of a file (--revision-of), resuming it after SIGINT as a first upload resumes', async () => {
    const first = await newFile('versioned.bin', 6 * MIB + 5);
    const created = await startClient(['put', first.path, '--part-size', '5MiB'], env()).finished;
    assert.equal(created.code, 0, created.stderr);
    const fileId = field(created.stdout, 'fileId');
    const { path, data } = await newFile('versioned-2.bin', 24 * MIB);
    const asVersion = ['--revision-of', fileId, '--container', user.containerId, '--keep-policy', '1'];
    const interrupted = await interruptedUpload(path, user.token, asVersion);
    assert.equal(interrupted.fileId, fileId, "the task is named by the file's id");
    assert.equal((interrupted as StoredState & { revisionOf?: string }).revisionOf, fileId);
    const doneBefore = interrupted.done.length;

    const { result, calls } = await apiCallsDuring(
      () => startClient(['put', path, '--part-size', '5MiB', '--parallel', '3', ...asVersion], env()).finished,
    );
    assert.equal(result.code, 0, result.stderr);
    // uploadUrl with the file's id names its pending version
    assert.deepEqual(calls, ['multipart/uploadUrl', 'revision/completeRevision']);
    assert.equal(field(result.stdout, 'fileId'), fileId);
    assert.equal(field(result.stdout, 'sha256'), sha256Hex(data));
    assert.equal(field(result.stdout, 'parts'), `5 (uploaded ${5 - doneBefore}, resumed ${doneBefore})`);
    const row = await fileRow(fileId);
    assert.equal(row.actualSha256, sha256Hex(data));
    assert.equal(row.revisionVersion, 2);
    assert.equal(row.keepPolicy, 1);
    assert.equal(await exists(`${path}.koodrive-upload.json`), false);
  });

  it('uploads a new version as an app for a user, every call signed', async () => {
    const userId = `u-${randomUUID()}`;
    const containerId = `c-${randomUUID()}`;
    await testRedis().set(`koodrive:user:${userId}`, JSON.stringify({ containerId }), 'EX', 600);
    const asApp = ['--app-id', APP_ID, '--user', userId];
    const appEnv = { KOODRIVE_URL: app().baseUrl, KOODRIVE_TOKEN: undefined, KOODRIVE_APP_SECRET: APP_SECRET };
    const first = await newFile('app-versioned.bin', 100);
    const created = await startClient(['put', first.path, ...asApp], appEnv).finished;
    assert.equal(created.code, 0, created.stderr);
    const fileId = field(created.stdout, 'fileId');
    const { path, data } = await newFile('app-versioned-2.bin', 11 * MIB);
    const { result, calls } = await apiCallsDuring(
      () =>
        startClient(['put', path, '--part-size', '5MiB', '--revision-of', fileId, ...asApp], {
          ...appEnv,
          KOODRIVE_CONTAINER: containerId,
        }).finished,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(calls, ['revision/createRevision', 'revision/completeRevision']);
    assert.equal(field(result.stdout, 'sha256'), sha256Hex(data));
    const row = await fileRow(fileId);
    assert.equal(row.actualSha256, sha256Hex(data));
    assert.equal(row.revisionVersion, 2);
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

  it('finishes at create when the service already holds the content (flash upload, or the same file)', async () => {
    const { path, data } = await newFile('flash.bin', 6 * MIB);
    const first = await startClient(['put', path, '--part-size', '5MiB'], env()).finished;
    assert.equal(first.code, 0, first.stderr);
    const fileId = field(first.stdout, 'fileId');

    const copy = join(dir, 'flash-copy.bin');
    await copyFile(path, copy);
    const flash = await apiCallsDuring(() => startClient(['put', copy], env()).finished);
    assert.equal(flash.result.code, 0, flash.result.stderr);
    assert.deepEqual(flash.calls, ['create']);
    assert.equal(field(flash.result.stdout, 'rapidUpload'), 'true');
    assert.equal(field(flash.result.stdout, 'parts'), '0 (the service already holds this content)');
    assert.equal(field(flash.result.stdout, 'sha256'), sha256Hex(data));
    assert.notEqual(field(flash.result.stdout, 'fileId'), fileId);
    assert.equal((await fileRow(field(flash.result.stdout, 'fileId'))).status, 'COMPLETED');

    const same = await apiCallsDuring(() => startClient(['put', path, '--auto-rename', '4'], env()).finished);
    assert.equal(same.result.code, 0, same.result.stderr);
    assert.deepEqual(same.calls, ['create']);
    assert.equal(field(same.result.stdout, 'exist'), 'true');
    assert.equal(field(same.result.stdout, 'fileId'), fileId);
    assert.equal(await exists(`${copy}.koodrive-upload.json`), false);
  });

  it('uploads as an app for a user, every call signed', async () => {
    const userId = `u-${randomUUID()}`;
    const containerId = `c-${randomUUID()}`;
    await testRedis().set(`koodrive:user:${userId}`, JSON.stringify({ containerId }), 'EX', 600);
    const { path, data } = await newFile('as-app.bin', 11 * MIB);
    const { result, calls } = await apiCallsDuring(
      () =>
        startClient(['put', path, '--part-size', '5MiB', '--app-id', APP_ID, '--user', userId], {
          KOODRIVE_URL: app().baseUrl,
          KOODRIVE_TOKEN: undefined,
          KOODRIVE_APP_SECRET: APP_SECRET,
        }).finished,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(calls, ['create', 'complete']);
    const fileId = field(result.stdout, 'fileId');
    await assertCompletedOnce(fileId, data);
    const row = await fileRow(fileId);
    assert.equal(row.ownerId, userId);
    assert.equal(row.containerId, containerId);
  });

  it('says what to check when the app signature is refused', async () => {
    const { path } = await newFile('wrong-secret.bin', 1000);
    const result = await startClient(['put', path], {
      KOODRIVE_URL: app().baseUrl,
      KOODRIVE_TOKEN: undefined,
      KOODRIVE_APP_ID: APP_ID,
      KOODRIVE_APP_SECRET: 'not-the-secret-at-all',
      KOODRIVE_USER: 'u-someone',
    }).finished;
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^error: create answered 13000901 \(HTTP 401\)/m);
    assert.match(result.stderr, /^check --app-id and --app-secret, and this machine's clock/m);
  });

  it('uploads into a shared folder, whose container then holds the file', async () => {
    const sharer = await newUser();
    const shared = { folderId: 'sf-1', containerId: `c-shared-${randomUUID()}`, scopes: ['file.upload'] };
    const token = randomBytes(24).toString('hex');
    await testRedis().set(
      `koodrive:session:${sha256Hex(Buffer.from(token))}`,
      JSON.stringify({
        userId: sharer.userId,
        containerId: sharer.containerId,
        scopes: ['file.upload'],
        sharedFolders: [shared],
      }),
      'EX',
      1200,
    );
    const { path, data } = await newFile('shared.bin', 11 * MIB);
    const result = await startClient(['put', path, '--part-size', '5MiB'], {
      KOODRIVE_URL: app().baseUrl,
      KOODRIVE_TOKEN: token,
      KOODRIVE_SHARE_FOLDER: 'sf-1',
    }).finished;
    assert.equal(result.code, 0, result.stderr);
    const fileId = field(result.stdout, 'fileId');
    await assertCompletedOnce(fileId, data);
    const row = await fileRow(fileId);
    assert.equal(row.containerId, shared.containerId);
    assert.equal(row.shareFolderId, 'sf-1');

    // a folder the session is not granted: refused (13000410), nothing created
    const refused = await startClient(['put', path, '--share-folder', 'sf-2'], {
      KOODRIVE_URL: app().baseUrl,
      KOODRIVE_TOKEN: token,
    }).finished;
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /^error: create answered 13000410 /m);
    assert.match(refused.stderr, /^this session may not upload into shared folder sf-2$/m);
  });

  it('takes a relative path from the directory it is run in: npx koodrive (the bin, from source) and npm run client', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'koodrive-cwd-'));
    try {
      await mkdir(join(elsewhere, 'sub'));
      const data = randomBytes(6 * MIB + 99);
      await writeFile(join(elsewhere, 'sub', 'relative.bin'), data);
      // the package's bin, as npx runs it: in the directory the command was typed in
      const bin = await startClient(['put', join('sub', 'relative.bin')], env(), {
        command: join(ROOT, 'apps/client/bin/koodrive.mjs'),
        cwd: elsewhere,
      }).finished;
      assert.equal(bin.code, 0, bin.stderr);
      assert.equal(field(bin.stdout, 'fileName'), 'relative.bin');
      await assertCompletedOnce(field(bin.stdout, 'fileId'), data);

      // npm run runs the script in the repository's root; the path is still the typed one's
      await writeFile(join(elsewhere, 'sub', 'relative.bin'), randomBytes(1000));
      const npm = await startClient(['--prefix', ROOT, 'run', '-s', 'client', '--', 'put', 'relative.bin'], env(), {
        command: 'npm',
        cwd: join(elsewhere, 'sub'),
      }).finished;
      assert.equal(npm.code, 0, npm.stderr);
      assert.equal(field(npm.stdout, 'length'), '1000');
      assert.equal(await exists(join(elsewhere, 'sub', 'relative.bin.koodrive-upload.json')), false);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('exits 2 with a clear message, before any call, on bad credentials or a bad name', async () => {
    const { path } = await newFile('usage.bin', 1000);
    const noToken = { KOODRIVE_URL: app().baseUrl, KOODRIVE_TOKEN: undefined };
    const cases: [readonly string[], Record<string, string | undefined>, RegExp][] = [
      [
        ['put', path],
        noToken,
        /^error: no access token: pass --token or set KOODRIVE_TOKEN, or pass --app-id, --app-secret and --user$/m,
      ],
      [
        ['put', path, '--app-id', APP_ID, '--app-secret', APP_SECRET, '--user', 'u-1'],
        env(),
        /^error: both a token and app credentials given/m,
      ],
      [['put', path, '--app-id', APP_ID], noToken, /^error: app authentication needs .*; missing: --app-secret/m],
      [['put', path, '--name', 'a|b.bin'], env(), /^error: --name "a\|b\.bin": a KooDrive name must not contain/m],
    ];
    const badName = join(dir, 'what?.bin');
    await writeFile(badName, 'x');
    cases.push([['put', badName], env(), /^error: the file's name "what\?\.bin" is not a valid KooDrive name/m]);
    for (const [args, environment, message] of cases) {
      const { result, calls } = await apiCallsDuring(() => startClient(args, environment).finished);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '');
      assert.deepEqual(calls, []);
    }
  });
});
