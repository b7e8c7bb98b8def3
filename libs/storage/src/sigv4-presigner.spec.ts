import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GetObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SigV4Presigner } from './sigv4-presigner.js';

// The oracle is the AWS SDK's own presigner, given the same time.
describe(SigV4Presigner.name, () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  const signingDate = new Date('2026-12-01T07:08:09.123Z');
  const cases = [
    { endpoint: 'http://127.0.0.1:7480', bucket: 'koodrive-uploads', forcePathStyle: true },
    { endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'koodrive-uploads', forcePathStyle: false },
    { endpoint: 'https://storage.example.com:8443', bucket: 'kd', forcePathStyle: true },
    // an IP address is addressed path style even when not forced
    { endpoint: 'http://127.0.0.1:7480', bucket: 'koodrive-uploads', forcePathStyle: false },
  ];
  const key = "files/c-1/Fi A+b~c!'()*é/x";

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
      const lean = new SigV4Presigner({
        endpoint,
        bucket,
        region: 'eu-west-1',
        forcePathStyle,
        credentials: () => Promise.resolve(credentials),
      });
      const uploadId = '2~iCw0-Z8v/upload+id=';
      const expected = await getSignedUrl(
        sdk,
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 46 }),
        { expiresIn: 3600, signingDate },
      );
      const made = await lean.presign({
        method: 'PUT',
        key,
        query: { partNumber: '46', uploadId, 'x-id': 'UploadPart' },
        expiresInSeconds: 3600,
        now: signingDate,
      });
      assert.equal(made, expected);
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
      endpoint: cases[0]!.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: withToken,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const lean = new SigV4Presigner({
      endpoint: cases[0]!.endpoint,
      bucket: 'b-1',
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: () => Promise.resolve(withToken),
    });
    const expected = await getSignedUrl(sdk, new GetObjectCommand({ Bucket: 'b-1', Key: 'k' }), {
      expiresIn: 60,
      signingDate,
    });
    assert.equal(
      await lean.presign({
        method: 'GET',
        key: 'k',
        query: { 'x-id': 'GetObject' },
        expiresInSeconds: 60,
        now: signingDate,
      }),
      expected,
    );
    sdk.destroy();
  });
});
