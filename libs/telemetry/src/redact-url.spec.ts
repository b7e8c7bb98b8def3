import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactUrl } from './redact-url.js';

describe(redactUrl.name, () => {
  it('hides signatures and credentials in a query, keeping the rest', () => {
    assert.equal(
      redactUrl('/koodrive/ose/v1/files/multipart/parts/Fi1/2?expires=1795557592&signature=46807b8e'),
      '/koodrive/ose/v1/files/multipart/parts/Fi1/2?expires=1795557592&signature=[redacted]',
    );
    assert.equal(
      redactUrl('http://s3/b/k?partNumber=1&X-Amz-Credential=AKIA%2Fx&X-Amz-Signature=abc&x-id=UploadPart'),
      'http://s3/b/k?partNumber=1&X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]&x-id=UploadPart',
    );
    assert.equal(redactUrl('/koodrive/ose/v1/files/create'), '/koodrive/ose/v1/files/create');
  });

  it('hides them however the name is spelled: any case, percent-encoded, twice', () => {
    assert.equal(
      redactUrl('/p?expires=1&sig%6Eature=46807b8e&SIGNATURE=1&%73ignature=2&signature=3#frag'),
      '/p?expires=1&sig%6Eature=[redacted]&SIGNATURE=[redacted]&%73ignature=[redacted]&signature=[redacted]#frag',
    );
    assert.equal(redactUrl('/p?x-amz-signature=a&bad%=1'), '/p?x-amz-signature=[redacted]&bad%=1');
  });
});
