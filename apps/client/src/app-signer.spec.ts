import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppSigner } from './app-signer.js';

const CREDENTIALS = { appId: 'app-1', secret: '0123456789abcdef0123', userId: 'u-1' };
const url = new URL('http://127.0.0.1:3000/koodrive/ose/v1/files/complete');

describe(AppSigner.name, () => {
  it('signs different requests of one second at once', async () => {
    const at = Date.parse('2026-03-01T12:00:00.250Z');
    const signer = new AppSigner(CREDENTIALS, () => at);
    const a = await signer.sign({ url, contentType: 'application/json', body: '{"fileId":"FiA"}' });
    const b = await signer.sign({ url, contentType: 'application/json', body: '{"fileId":"FiB"}' });
    assert.equal(a['x-date'], '20260301T120000Z');
    assert.equal(b['x-date'], '20260301T120000Z');
    assert.equal(a['x-user-id'], 'u-1');
    assert.match(
      a.authorization!,
      /^HMAC-SHA256 AppId=app-1,SignedHeaders=content-type;host;x-date;x-user-id,Signature=/,
    );
    assert.notEqual(a.authorization, b.authorization);
  });

  it('holds a repeated request until the next second, so its signature is new', async () => {
    const signer = new AppSigner(CREDENTIALS);
    const request = { url, contentType: 'application/json', body: '{"fileId":"FiA"}' };
    const first = await signer.sign(request);
    const again = await signer.sign(request);
    assert.notEqual(again.authorization, first.authorization);
    assert.ok(again['x-date']! > first['x-date']!, `${again['x-date']} after ${first['x-date']}`);
  });
});
