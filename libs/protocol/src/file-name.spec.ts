import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkFileName } from './file-name.js';

const refused = (name: unknown, reason: string): void => {
  assert.deepEqual(checkFileName(name), { ok: false, reason }, JSON.stringify(name));
};

describe(checkFileName.name, () => {
  it('accepts ordinary names, and returns them NFC-normalized', () => {
    for (const name of [
      'report.pdf',
      '.hidden',
      '...',
      'a b',
      '\u62a5\u544a.docx',
      'x'.repeat(250),
      '\ud83d\udcc4.txt',
    ]) {
      assert.deepEqual(checkFileName(name), { ok: true, name });
    }
    // e + combining acute becomes one code unit; the Kelvin sign becomes K
    assert.deepEqual(checkFileName('caf\u0065\u0301.txt'), { ok: true, name: 'caf\u00e9.txt' });
    assert.deepEqual(checkFileName('\u212a.txt'), { ok: true, name: 'K.txt' });
  });

  it('is 1-250 UTF-16 code units after NFC', () => {
    refused('', 'must be 1-250 characters');
    refused('x'.repeat(251), 'must be 1-250 characters');
    // 250 code units as NFD, 125 after NFC
    assert.equal(checkFileName('e\u0301'.repeat(125)).ok, true);
    assert.deepEqual(checkFileName('e\u0301'.repeat(126)), { ok: true, name: '\u00e9'.repeat(126) });
    // an astral character is two code units: 125 fit, 126 do not
    assert.equal(checkFileName('\ud83d\udcc4'.repeat(125)).ok, true);
    refused('\ud83d\udcc4'.repeat(126), 'must be 1-250 characters');
    // U+0958 has no composed form: NFC writes it as two code units, 126 of them are 252
    refused('\u0958'.repeat(126), 'must be 1-250 characters');
  });

  it('refuses <>|:"*?/\\', () => {
    for (const char of '<>|:"*?/\\') {
      refused(`a${char}b`, 'must not contain <>|:"*?/\\');
    }
  });

  it('refuses . and ..', () => {
    refused('.', 'must not be . or ..');
    refused('..', 'must not be . or ..');
  });

  it('refuses C0, DEL and C1 controls', () => {
    for (const char of ['\u0000', '\u0009', '\u000a', '\u001f', '\u007f', '\u0080', '\u0085', '\u009f']) {
      refused(`a${char}b`, 'must not contain control, bidirectional or zero-width characters');
    }
  });

  it('refuses bidi embeddings, overrides and isolates, and takes the marks Hebrew and Arabic names carry', () => {
    for (const mark of ['\u061c', '\u200e', '\u200f']) {
      assert.deepEqual(checkFileName(`\u05d3\u05d5\u05d7${mark}.pdf`), {
        ok: true,
        name: `\u05d3\u05d5\u05d7${mark}.pdf`,
      });
    }
    const bidi = ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e'];
    for (const char of [...bidi, '\u2066', '\u2067', '\u2068', '\u2069']) {
      refused(`invoice${char}fdp.exe`, 'must not contain control, bidirectional or zero-width characters');
    }
  });

  it('takes the joiner inside an emoji sequence, and only there', () => {
    const family = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}';
    assert.deepEqual(checkFileName(`${family}.jpg`), { ok: true, name: `${family}.jpg` });
    // with a variation selector: heart on fire
    assert.equal(checkFileName('\u2764\uFE0F\u200D\u{1F525}.png').ok, true);
    for (const name of ['a\u200Db', '\u{1F468}\u200Db', 'a\u200D\u{1F468}', '\u{1F468}\u200D']) {
      refused(name, 'must not contain control, bidirectional or zero-width characters');
    }
  });

  it('refuses zero-width characters and the BOM', () => {
    for (const char of ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff']) {
      refused(`a${char}b`, 'must not contain control, bidirectional or zero-width characters');
    }
  });

  it('refuses lone surrogates, high or low', () => {
    for (const name of ['a\ud83d', '\ud83da', 'a\udcc4', '\udcc4\ud83d']) {
      refused(name, 'must be valid Unicode (no lone surrogates)');
    }
  });

  it('refuses what is not a string', () => {
    for (const name of [undefined, null, 7, ['a'], { name: 'a' }]) {
      refused(name, 'must be a string');
    }
  });
});
