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
});
