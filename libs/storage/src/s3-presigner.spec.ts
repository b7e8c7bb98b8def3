import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { GetObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { S3Presigner } from './s3-presigner.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const signingDate = new Date('2026-12-01T07:08:09.123Z');
const key = "files/c-1/Fi A+b~c!'()*é/x";
const uploadId = '2~iCw0-Z8v/upload+id=';

function presigner(endpoint: string, bucket: string, forcePathStyle: boolean, creds = credentials): S3Presigner {
  const sdk = new S3Client({ region: 'eu-west-1', credentials: creds });
  return new S3Presigner({
    endpoint,
    bucket,
    region: 'eu-west-1',
    forcePathStyle,
    credentials: sdk.config.credentials,
    sha256: sdk.config.sha256,
  });
}

const uploadPart = (expiresInSeconds = 3600) =>
  ({
    method: 'PUT',
    key,
    query: { partNumber: '46', uploadId, 'x-id': 'UploadPart' },
    expiresInSeconds,
    now: signingDate,
  }) as const;

// HMAC-SHA256 by openssl's own code: the signature's oracle, computed apart from any JavaScript signer
function opensslHmac(key: Buffer, data: string): Buffer {
  return execFileSync(
    'openssl',
    ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${key.toString('hex')}`, '-binary'],
    {
      input: data,
    },
  );
}

describe(S3Presigner.name, () => {
  // What the hand-written presigner this one replaced (libs/storage/src/sigv4-presigner.ts, until
  // 3d05d79) made for the same inputs and clock: each of these URLs, byte for byte.
  const handWritten = {
    'http://127.0.0.1:7480':
      'http://127.0.0.1:7480/koodrive-uploads/files/c-1/Fi%20A%2Bb~c%21%27%28%29%2A%C3%A9/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=AKIDEXAMPLE%2F20261201%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20261201T070809Z&X-Amz-Expires=3600&X-Amz-Signature=d8f30a43ed740cd413525f2495fe86cd5d510c95b05b61291ebf51d2db88e4f1&X-Amz-SignedHeaders=host&partNumber=46&uploadId=2~iCw0-Z8v%2Fupload%2Bid%3D&x-id=UploadPart',
    'https://s3.eu-west-1.amazonaws.com':
      'https://koodrive-uploads.s3.eu-west-1.amazonaws.com/files/c-1/Fi%20A%2Bb~c%21%27%28%29%2A%C3%A9/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=AKIDEXAMPLE%2F20261201%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20261201T070809Z&X-Amz-Expires=3600&X-Amz-Signature=89ae62825d0c18dfc034f5b312d1d57d29dc00d9e84a647d71380fe419989299&X-Amz-SignedHeaders=host&partNumber=46&uploadId=2~iCw0-Z8v%2Fupload%2Bid%3D&x-id=UploadPart',
  };

  it('makes the URLs the hand-written presigner it replaced made, byte for byte', async () => {
    assert.equal(
      await presigner('http://127.0.0.1:7480', 'koodrive-uploads', true).presign(uploadPart()),
      handWritten['http://127.0.0.1:7480'],
    );
    assert.equal(
      await presigner('https://s3.eu-west-1.amazonaws.com', 'koodrive-uploads', false).presign(uploadPart()),
      handWritten['https://s3.eu-west-1.amazonaws.com'],
    );
  });

  it("signs as SigV4 says: the signature is openssl's HMAC chain over the canonical request", async () => {
    const url = new URL(await presigner('http://127.0.0.1:7480', 'koodrive-uploads', true).presign(uploadPart()));
    const params = [...url.searchParams].filter(([name]) => name !== 'X-Amz-Signature');
    const encode = (value: string): string =>
      encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const canonicalQuery = params
      .map(([name, value]) => [encode(name), encode(value)])
      .sort(([a], [b]) => (a! < b! ? -1 : 1))
      .map(([name, value]) => `${name}=${value}`)
      .join('&');
    // AWS's "Authenticating Requests: Using Query Parameters": method, path as sent, query, the host
    // header, the signed header list, UNSIGNED-PAYLOAD
    const canonicalRequest = [
      'PUT',
      '/koodrive-uploads/files/c-1/Fi%20A%2Bb~c%21%27%28%29%2A%C3%A9/x',
      canonicalQuery,
      'host:127.0.0.1:7480',
      '',
      'host',
      'UNSIGNED-PAYLOAD',
    ].join('\n');
    const scope = '20261201/eu-west-1/s3/aws4_request';
    const stringToSign = [
      'AWS4-HMAC-SHA256',
      '20261201T070809Z',
      scope,
      createHash('sha256').update(canonicalRequest).digest('hex'),
    ].join('\n');
    let signingKey: Buffer = Buffer.from(`AWS4${credentials.secretAccessKey}`);
    for (const part of ['20261201', 'eu-west-1', 's3', 'aws4_request']) {
      signingKey = opensslHmac(signingKey, part);
    }
    assert.equal(url.searchParams.get('X-Amz-Signature'), opensslHmac(signingKey, stringToSign).toString('hex'));
    assert.equal(url.searchParams.get('X-Amz-Credential'), `AKIDEXAMPLE/${scope}`);
    assert.equal(url.searchParams.get('X-Amz-Expires'), '3600');
  });

  const cases = [
    { endpoint: 'http://127.0.0.1:7480', bucket: 'koodrive-uploads', forcePathStyle: true },
    { endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'koodrive-uploads', forcePathStyle: false },
    { endpoint: 'https://storage.example.com:8443/base/', bucket: 'kd', forcePathStyle: true },
    // an IP address is addressed path style even when not forced
    { endpoint: 'http://127.0.0.1:7480', bucket: 'koodrive-uploads', forcePathStyle: false },
  ];
  for (const { endpoint, bucket, forcePathStyle } of cases) {
    it(`makes the SDK's UploadPart and GetObject URLs (${endpoint}, path style ${forcePathStyle})`, async () => {
      const sdk = new S3Client({
        endpoint,
        region: 'eu-west-1',
        forcePathStyle,
        credentials,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      const lean = presigner(endpoint, bucket, forcePathStyle);
      const expected = await getSignedUrl(
        sdk,
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 46 }),
        { expiresIn: 3600, signingDate },
      );
      assert.equal(await lean.presign(uploadPart()), expected);
      const expectedGet = await getSignedUrl(sdk, new GetObjectCommand({ Bucket: bucket, Key: key }), {
        expiresIn: 300,
        signingDate,
      });
      const get = await lean.presign({
        method: 'GET',
        key,
        query: { 'x-id': 'GetObject' },
        expiresInSeconds: 300,
        now: signingDate,
      });
      assert.equal(get, expectedGet);
      sdk.destroy();
    });
  }

  it('signs with a session token when the credentials carry one', async () => {
    const withToken = { ...credentials, sessionToken: 'FwoGZXIvYXdzEXAMPLE//token=' };
    const sdk = new S3Client({
      endpoint: 'http://127.0.0.1:7480',
      region: 'eu-west-1',
      forcePathStyle: true,
      credentials: withToken,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const expected = await getSignedUrl(sdk, new GetObjectCommand({ Bucket: 'b-1', Key: 'k' }), {
      expiresIn: 60,
      signingDate,
    });
    const made = await presigner('http://127.0.0.1:7480', 'b-1', true, withToken).presign({
      method: 'GET',
      key: 'k',
      query: { 'x-id': 'GetObject' },
      expiresInSeconds: 60,
      now: signingDate,
    });
    assert.equal(made, expected);
    assert.equal(new URL(made).searchParams.get('X-Amz-Security-Token'), withToken.sessionToken);
    sdk.destroy();
  });
});
