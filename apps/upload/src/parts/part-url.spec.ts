import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PART_UPLOAD_PATH, partUploadUrl, verifyPartUrl } from './part-url.js';

const SECRET = 'a-test-secret-of-at-least-32-characters';

function parse(url: string) {
  const parsed = new URL(url);
  const [fileId, partNumber] = parsed.pathname.slice(PART_UPLOAD_PATH.length + 2).split('/');
  return {
    fileId: decodeURIComponent(fileId!),
    partNumber: Number(partNumber),
    expires: parsed.searchParams.get('expires') ?? undefined,
    signature: parsed.searchParams.get('signature') ?? undefined,
  };
}

describe(verifyPartUrl.name, () => {
  const now = 1_800_000_000;
  const url = partUploadUrl('https://upload.example.com', SECRET, {
    fileId: 'FiAbc',
    partNumber: 3,
    expires: now + 60,
  });

  it('signs as the scheme says, checked against openssl', () => {
    // printf 'PUT\nFiAbc\n3\n1800000060' | openssl dgst -sha256 -hmac 'a-test-secret-of-at-least-32-characters'
    const signature = 'dbf198456742fd2c944ef06028a510b526de5582a9f97dfcc603a49029ccf1de';
    assert.equal(
      url,
      `https://upload.example.com/koodrive/ose/v1/files/multipart/parts/FiAbc/3?expires=1800000060&signature=${signature}`,
    );
    assert.equal(verifyPartUrl(SECRET, 'FiAbc', 3, '1800000060', signature, now), 'valid');
  });

  it('accepts the URL it signed until it expires', () => {
    assert.match(url, /^https:\/\/upload\.example\.com\/koodrive\/ose\/v1\/files\/multipart\/parts\/FiAbc\/3\?/);
    const { fileId, partNumber, expires, signature } = parse(url);
    assert.equal(verifyPartUrl(SECRET, fileId, partNumber, expires, signature, now), 'valid');
    assert.equal(verifyPartUrl(SECRET, fileId, partNumber, expires, signature, now + 61), 'expired');
  });

  it('refuses a URL changed in any part, or signed with another key', () => {
    const { fileId, partNumber, expires, signature } = parse(url);
    assert.equal(verifyPartUrl(SECRET, 'FiAbd', partNumber, expires, signature, now), 'forged');
    assert.equal(verifyPartUrl(SECRET, fileId, 4, expires, signature, now), 'forged');
    assert.equal(verifyPartUrl(SECRET, fileId, partNumber, String(now + 7200), signature, now), 'forged');
    assert.equal(verifyPartUrl(`${SECRET}x`, fileId, partNumber, expires, signature, now), 'forged');
    assert.equal(verifyPartUrl(SECRET, fileId, partNumber, expires, signature!.slice(2), now), 'forged');
    assert.equal(verifyPartUrl(SECRET, fileId, partNumber, expires, 'zz', now), 'forged');
    assert.equal(verifyPartUrl(SECRET, fileId, partNumber, undefined, signature, now), 'forged');
    assert.equal(verifyPartUrl(SECRET, fileId, partNumber, '-1', signature, now), 'forged');
    assert.equal(verifyPartUrl(SECRET, fileId, partNumber, expires, ['a'], now), 'forged');
  });

  it('takes a signature in one form only: no upper case, no trailing junk, no leading zeros in expires', () => {
    const { fileId, partNumber, expires, signature } = parse(url);
    assert.equal(verifyPartUrl(SECRET, fileId, partNumber, expires, signature!.toUpperCase(), now), 'forged');
    assert.equal(verifyPartUrl(SECRET, fileId, partNumber, expires, `${signature!}00`, now), 'forged');
    assert.equal(verifyPartUrl(SECRET, fileId, partNumber, `0${expires!}`, signature, now), 'forged');
  });
});
