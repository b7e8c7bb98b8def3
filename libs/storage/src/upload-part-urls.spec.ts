import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import { S3Presigner } from './s3-presigner.js';

// The bulk path must make, for every part, the URL @smithy/signature-v4 makes (S3Presigner.presign,
// itself checked against the SDK's getSignedUrl and openssl in s3-presigner.spec.ts).
const signingDate = new Date('2026-12-01T07:08:09.123Z');
const keys = ["files/c-1/Fi A+b~c!'()*é/x", 'files/c-2/FiqNTAYdzXtKhenh29A9EXJvhaKQqcYVS'];
const uploadId = '2~iCw0-Z8v/upload+id=';
const PARTS = [1, 2, 9, 10, 46, 999, 1000, 9999, 10000];

const credentialSets = {
  static: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  // temporary credentials: X-Amz-Security-Token in the query, before X-Amz-Signature
  session: {
    accessKeyId: 'ASIAEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    sessionToken: 'IQoJb3JpZ2luX2VjE/session+token=',
  },
};

function presigner(endpoint: string, forcePathStyle: boolean, credentials: S3ClientCredentials): S3Presigner {
  const sdk = new S3Client({ region: 'eu-west-1', credentials });
  return new S3Presigner({
    endpoint,
    bucket: 'koodrive-uploads',
    region: 'eu-west-1',
    forcePathStyle,
    credentials: sdk.config.credentials,
    sha256: sdk.config.sha256,
  });
}

type S3ClientCredentials = (typeof credentialSets)[keyof typeof credentialSets];

describe('S3Presigner.presignUploadParts', () => {
  for (const [endpoint, forcePathStyle] of [
    ['http://127.0.0.1:7480', true],
    ['https://s3.eu-west-1.amazonaws.com', false],
    ['https://s3.example.com/base/', true],
  ] as const) {
    for (const [kind, credentials] of Object.entries(credentialSets)) {
      it(`makes presign()'s URL for every part (${endpoint}, ${kind} credentials)`, async () => {
        const signer = presigner(endpoint, forcePathStyle, credentials);
        for (const key of keys) {
          const bulk = await signer.presignUploadParts(key, uploadId, PARTS, 3600, signingDate);
          const one = await Promise.all(
            PARTS.map((partNumber) =>
              signer.presign({
                method: 'PUT',
                key,
                query: { partNumber: String(partNumber), uploadId, 'x-id': 'UploadPart' },
                expiresInSeconds: 3600,
                now: signingDate,
              }),
            ),
          );
          assert.deepEqual(bulk, one);
        }
      });
    }
  }

  it('answers the parts in the order asked, one URL each, across slices', async () => {
    const signer = presigner('http://127.0.0.1:7480', true, credentialSets.static);
    const numbers = Array.from({ length: 2500 }, (_, i) => 2500 - i);
    const urls = await signer.presignUploadParts(keys[1]!, uploadId, numbers, 600, signingDate);
    assert.equal(urls.length, numbers.length);
    urls.forEach((url, i) => assert.equal(new URL(url).searchParams.get('partNumber'), String(numbers[i])));
    assert.equal(new Set(urls).size, urls.length);
  });
});
