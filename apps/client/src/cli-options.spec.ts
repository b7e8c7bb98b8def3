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
        token: 'tok',
        parallel: 4,
        partSize: 8 * MIB,
        name: undefined,
        autoRename: 2,
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
    assert.equal(command.kind === 'put' && command.options.token, 'mine');
    assert.equal(command.kind === 'put' && command.options.parallel, 2);
    assert.equal(command.kind === 'put' && command.options.partSize, 6 * MIB);
    const fromEnv = parseCommand(['put', 'a.bin'], { KOODRIVE_TOKEN: 'env', KOODRIVE_URL: 'https://kd.example' });
    assert.equal(fromEnv.kind === 'put' && fromEnv.options.url, 'https://kd.example');
  });

  it('needs a token', () => {
    assert.throws(() => parseCommand(['put', 'a.bin'], {}), /no access token/);
    assert.throws(() => parseCommand(['put', 'a.bin'], { KOODRIVE_TOKEN: ' ' }), UsageError);
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
    ]) {
      assert.throws(() => parseCommand(argv, env), UsageError, argv.join(' '));
    }
  });

  it('answers help', () => {
    assert.deepEqual(parseCommand([], {}), { kind: 'help' });
    assert.deepEqual(parseCommand(['--help'], {}), { kind: 'help' });
  });
});
