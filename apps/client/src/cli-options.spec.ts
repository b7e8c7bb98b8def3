import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GIB, MIB } from '@koodrive/limits';
import { DEFAULT_URL, parseCommand, parseSize, partSizeFor, UsageError } from './cli-options.js';

describe(parseSize.name, () => {
  it('reads binary units, decimal units and plain bytes', () => {
    assert.equal(parseSize('8MiB'), 8 * MIB);
    assert.equal(parseSize('5M'), 5 * MIB);
    assert.equal(parseSize('5m'), 5 * MIB);
    assert.equal(parseSize('1GiB'), GIB);
    assert.equal(parseSize('1G'), GIB);
    assert.equal(parseSize('5MB'), 5_000_000);
    assert.equal(parseSize('64KiB'), 64 * 1024);
    assert.equal(parseSize('5242880'), 5 * MIB);
    assert.equal(parseSize('1.5GiB'), 1.5 * GIB);
    assert.equal(parseSize(' 6 MiB '), 6 * MIB);
  });

  it('refuses what is not a size', () => {
    for (const text of ['', 'MiB', '-5MiB', '5 parsecs', '5MiBs', '0x10', '1e3']) {
      assert.throws(() => parseSize(text), UsageError, text);
    }
  });
});

describe(partSizeFor.name, () => {
  it('rounds up to whole 64-byte blocks', () => {
    assert.equal(partSizeFor(5 * MIB, 100), 5 * MIB);
    assert.equal(partSizeFor(5 * MIB + 1, 100), 5 * MIB + 64);
    assert.equal(partSizeFor(10_000_001, 100), 10_000_064);
  });

  it('keeps to 5 MiB - 5 GiB', () => {
    assert.throws(() => partSizeFor(5 * MIB - 1, 0), UsageError);
    assert.throws(() => partSizeFor(5 * GIB + 1, 0), UsageError);
  });

  it('grows parts so a file fits in 10,000 of them', () => {
    const length = 100 * GIB;
    const size = partSizeFor(8 * MIB, length);
    assert.equal(size % 64, 0);
    assert.ok(Math.ceil(length / size) <= 10_000);
    assert.ok(Math.ceil(length / (size - 64)) > 10_000);
  });
});

describe(parseCommand.name, () => {
  const env = { KOODRIVE_TOKEN: 'tok' };

  it('applies the defaults', () => {
    assert.deepEqual(parseCommand(['put', 'a.bin'], env), {
      kind: 'put',
      options: {
        file: 'a.bin',
        url: DEFAULT_URL,
        credentials: { kind: 'token', token: 'tok' },
        shareFolder: null,
        uploadVia: undefined,
        parallel: 4,
        partSize: 8 * MIB,
        name: 'a.bin',
        autoRename: 2,
        revision: null,
      },
    });
  });

  it('takes options before the environment', () => {
    const command = parseCommand(
      ['put', 'a.bin', '--url', 'http://h:1/', '--token', 'mine', '--parallel', '2', '--part-size', '6MiB'],
      { KOODRIVE_TOKEN: 'env', KOODRIVE_URL: 'http://other' },
    );
    assert.equal(command.kind, 'put');
    assert.equal(command.kind === 'put' && command.options.url, 'http://h:1');
    assert.deepEqual(command.kind === 'put' && command.options.credentials, { kind: 'token', token: 'mine' });
    assert.equal(command.kind === 'put' && command.options.parallel, 2);
    assert.equal(command.kind === 'put' && command.options.partSize, 6 * MIB);
    const fromEnv = parseCommand(['put', 'a.bin'], { KOODRIVE_TOKEN: 'env', KOODRIVE_URL: 'https://kd.example' });
    assert.equal(fromEnv.kind === 'put' && fromEnv.options.url, 'https://kd.example');
  });

  it('needs a token', () => {
    assert.throws(() => parseCommand(['put', 'a.bin'], {}), /no access token/);
    assert.throws(() => parseCommand(['put', 'a.bin'], { KOODRIVE_TOKEN: ' ' }), UsageError);
  });

  it('takes app credentials from options or the environment, instead of a token', () => {
    const app = { kind: 'app', appId: 'app-1', secret: 's3cret', userId: 'u-1' };
    const given = parseCommand(['put', 'a.bin', '--app-id', 'app-1', '--app-secret', 's3cret', '--user', 'u-1'], {});
    assert.deepEqual(given.kind === 'put' && given.options.credentials, app);
    const fromEnv = parseCommand(['put', 'a.bin'], {
      KOODRIVE_APP_ID: 'app-1',
      KOODRIVE_APP_SECRET: 's3cret',
      KOODRIVE_USER: 'u-1',
    });
    assert.deepEqual(fromEnv.kind === 'put' && fromEnv.options.credentials, app);
    const mixed = parseCommand(['put', 'a.bin', '--user', 'u-1'], {
      KOODRIVE_APP_ID: 'app-1',
      KOODRIVE_APP_SECRET: 's3cret',
    });
    assert.deepEqual(mixed.kind === 'put' && mixed.options.credentials, app);
  });

  it('wants exactly one of a token and complete app credentials', () => {
    const app = ['--app-id', 'app-1', '--app-secret', 's3cret', '--user', 'u-1'];
    assert.throws(() => parseCommand(['put', 'a.bin', ...app], env), /both a token and app credentials/);
    assert.throws(() => parseCommand(['put', 'a.bin', '--token', 't', '--user', 'u-1'], {}), /not both/);
    assert.throws(
      () => parseCommand(['put', 'a.bin', '--app-id', 'app-1'], {}),
      /^Error: app authentication needs --app-id, --app-secret and --user; missing: --app-secret \(KOODRIVE_APP_SECRET\), --user \(KOODRIVE_USER\)$/,
    );
    assert.throws(() => parseCommand(['put', 'a.bin'], { KOODRIVE_APP_SECRET: 'x' }), /missing: --app-id/);
    assert.throws(() => parseCommand(['put', 'a.bin', ...app.slice(0, 4), '--user', 'u 1'], {}), /--user must be/);
    assert.throws(() => parseCommand(['put', 'a.bin', '--app-id', 'app/1', ...app.slice(2)], {}), /^Error: --app-id: /);
  });

  it('takes a shared folder from --share-folder or KOODRIVE_SHARE_FOLDER', () => {
    const given = parseCommand(['put', 'a.bin', '--share-folder', 'sf-1'], { ...env, KOODRIVE_SHARE_FOLDER: 'sf-2' });
    assert.equal(given.kind === 'put' && given.options.shareFolder, 'sf-1');
    const fromEnv = parseCommand(['put', 'a.bin'], { ...env, KOODRIVE_SHARE_FOLDER: 'sf-2' });
    assert.equal(fromEnv.kind === 'put' && fromEnv.options.shareFolder, 'sf-2');
    assert.throws(() => parseCommand(['put', 'a.bin', '--share-folder', 'sf 1'], env), /--share-folder must be/);
  });

  it('takes where the parts go from --upload-via or KOODRIVE_UPLOAD_VIA', () => {
    const given = parseCommand(['put', 'a.bin', '--upload-via', 's3'], { ...env, KOODRIVE_UPLOAD_VIA: 'service' });
    assert.equal(given.kind === 'put' && given.options.uploadVia, 's3');
    const fromEnv = parseCommand(['put', 'a.bin'], { ...env, KOODRIVE_UPLOAD_VIA: 'service' });
    assert.equal(fromEnv.kind === 'put' && fromEnv.options.uploadVia, 'service');
    assert.throws(
      () => parseCommand(['put', 'a.bin', '--upload-via', 'ftp'], env),
      /--upload-via must be s3 or service/,
    );
  });

  it("checks the name against KooDrive's rules: --name, else the file's base name", () => {
    const named = parseCommand(['put', 'dir/a.bin', '--name', 'Cafe\u0301.txt'], env);
    assert.equal(named.kind === 'put' && named.options.name, 'Caf\u00e9.txt');
    const base = parseCommand(['put', '/some/dir/report 2024.pdf'], env);
    assert.equal(base.kind === 'put' && base.options.name, 'report 2024.pdf');
    assert.throws(
      () => parseCommand(['put', 'a.bin', '--name', 'a:b'], env),
      /^Error: --name "a:b": a KooDrive name must not contain/,
    );
    assert.throws(() => parseCommand(['put', 'a.bin', '--name', 'x'.repeat(251)], env), /must be 1-250 characters/);
    assert.throws(
      () => parseCommand(['put', 'dir/what?.txt'], env),
      /^Error: the file's name "what\?\.txt" is not a valid KooDrive name \(it must not contain .*\); choose one with --name$/,
    );
    const renamed = parseCommand(['put', 'dir/what?.txt', '--name', 'what.txt'], env);
    assert.equal(renamed.kind === 'put' && renamed.options.name, 'what.txt');
  });

  it('takes --revision-of with its container (--container or KOODRIVE_CONTAINER) and keep policy, and no name', () => {
    const version = parseCommand(['put', 'dir/what?.txt', '--revision-of', 'FiAbc', '--keep-policy', '1'], {
      ...env,
      KOODRIVE_CONTAINER: 'c-1',
    });
    assert.deepEqual(version.kind === 'put' && version.options.revision, {
      fileId: 'FiAbc',
      containerId: 'c-1',
      keepPolicy: 1,
    });
    const given = parseCommand(['put', 'a.bin', '--revision-of', 'FiAbc', '--container', 'c-2'], env);
    assert.deepEqual(given.kind === 'put' && given.options.revision, {
      fileId: 'FiAbc',
      containerId: 'c-2',
      keepPolicy: 0,
    });
    for (const argv of [
      ['put', 'a.bin', '--revision-of', 'FiAbc'],
      ['put', 'a.bin', '--revision-of', 'Fi/../x', '--container', 'c'],
      ['put', 'a.bin', '--revision-of', 'FiAbc', '--container', 'c', '--keep-policy', '2'],
      ['put', 'a.bin', '--revision-of', 'FiAbc', '--container', 'c', '--name', 'b.bin'],
      ['put', 'a.bin', '--revision-of', 'FiAbc', '--container', 'c', '--auto-rename', '3'],
      ['put', 'a.bin', '--container', 'c'],
      ['put', 'a.bin', '--keep-policy', '1'],
    ]) {
      assert.throws(() => parseCommand(argv, env), UsageError, argv.join(' '));
    }
  });

  it('refuses bad usage', () => {
    for (const argv of [
      ['get', 'a.bin'],
      ['put'],
      ['put', 'a', 'b'],
      ['put', 'a', '--parallel', '0'],
      ['put', 'a', '--parallel', '1.5'],
      ['put', 'a', '--part-size', '1MiB'],
      ['put', 'a', '--auto-rename', '1'],
      ['put', 'a', '--url', 'ftp://x'],
      ['put', 'a', '--bogus'],
      ['put', 'a', '--name', '..'],
      ['put', 'a', '--name', 'tab\there'],
    ]) {
      assert.throws(() => parseCommand(argv, env), UsageError, argv.join(' '));
    }
  });

  it('answers help', () => {
    assert.deepEqual(parseCommand([], {}), { kind: 'help' });
    assert.deepEqual(parseCommand(['--help'], {}), { kind: 'help' });
  });
});
