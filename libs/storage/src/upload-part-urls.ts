// Presigned UploadPart URLs in bulk: a 10,000-part create or uploadUrl hands out 10,000 of them.
// @smithy/signature-v4 (S3Presigner.presign) costs 40-55 µs of CPU a URL here (a key object
// made from the signing key, header and query maps and promises per URL): 0.4-0.55 s for one request.
// The URLs of one upload differ only in partNumber, so here the canonical request is a template
// and the signing key a KeyObject derived once: about 4 µs a URL (`npm run bench -- --only transport`).
// The URLs are S3Presigner.presign's, byte for byte (upload-part-urls.spec.ts); anything else the
// service signs goes through S3Presigner.
import { createHmac, createSecretKey, hash, type KeyObject } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

export interface PartUrlTarget {
  // `https:` or `http:`
  readonly protocol: string;
  // the Host the URL names (bucket.endpoint for virtual-hosted addressing)
  readonly host: string;
  // the object's path, already RFC 3986-encoded as it is sent and signed
  readonly path: string;
}

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

// URLs signed between two turns of the event loop: a batch never holds it for long (~4 ms)
const SLICE = 1000;
const ALGORITHM = 'AWS4-HMAC-SHA256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export async function signUploadPartUrls(
  target: PartUrlTarget,
  credentials: SigningCredentials,
  region: string,
  uploadId: string,
  partNumbers: readonly number[],
  expiresInSeconds: number,
  now: Date,
): Promise<string[]> {
  const longDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const shortDate = longDate.slice(0, 8);
  const scope = `${shortDate}/${region}/s3/aws4_request`;
  const signingKey = deriveSigningKey(credentials.secretAccessKey, shortDate, region);
  // the query's names sort so: X-Amz-* (upper case) first, then partNumber, uploadId, x-id; the
  // signature goes between X-Amz-Security-Token and X-Amz-SignedHeaders in the URL, not in the
  // canonical request
  const before =
    `X-Amz-Algorithm=${ALGORITHM}&X-Amz-Content-Sha256=${UNSIGNED_PAYLOAD}` +
    `&X-Amz-Credential=${escapeUri(`${credentials.accessKeyId}/${scope}`)}` +
    `&X-Amz-Date=${longDate}&X-Amz-Expires=${expiresInSeconds}` +
    (credentials.sessionToken === undefined ? '' : `&X-Amz-Security-Token=${escapeUri(credentials.sessionToken)}`);
  const after = `X-Amz-SignedHeaders=host&partNumber=`;
  const tail = `&uploadId=${escapeUri(uploadId)}&x-id=UploadPart`;
  const requestHead = `PUT\n${target.path}\n${before}&${after}`;
  const requestTail = `${tail}\nhost:${target.host}\n\nhost\n${UNSIGNED_PAYLOAD}`;
  const stringToSignHead = `${ALGORITHM}\n${longDate}\n${scope}\n`;
  const urlHead = `${target.protocol}//${target.host}${target.path}?${before}&X-Amz-Signature=`;
  const urls = new Array<string>(partNumbers.length);
  for (let i = 0; i < partNumbers.length; i++) {
    if (i > 0 && i % SLICE === 0) {
      await yieldToLoop();
    }
    const partNumber = partNumbers[i]!;
    const canonicalRequest = `${requestHead}${partNumber}${requestTail}`;
    const digest = hash('sha256', canonicalRequest, 'hex');
    const signature = createHmac('sha256', signingKey)
      .update(stringToSignHead + digest)
      .digest('hex');
    urls[i] = `${urlHead}${signature}&${after}${partNumber}${tail}`;
  }
  return urls;
}

function deriveSigningKey(secret: string, shortDate: string, region: string): KeyObject {
  const date = createHmac('sha256', `AWS4${secret}`).update(shortDate).digest();
  const regional = createHmac('sha256', date).update(region).digest();
  const service = createHmac('sha256', regional).update('s3').digest();
  return createSecretKey(createHmac('sha256', service).update('aws4_request').digest());
}

// RFC 3986: everything but unreserved characters percent-encoded, as SigV4 wants
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
