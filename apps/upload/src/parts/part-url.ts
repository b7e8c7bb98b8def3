// The service's own part URLs: a plain PUT of the part's bytes, no Authorization header, signed
// and expiring as an S3 presigned URL is. The signature (HMAC-SHA256 under PART_URL_SECRET) binds
// the file, the part number and the expiry; anything else about the part is read from its plan.
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

export const PART_UPLOAD_PATH = 'koodrive/ose/v1/files/multipart/parts';

export interface PartUrlClaims {
  readonly fileId: string;
  readonly partNumber: number;
  // unix seconds
  readonly expires: number;
}

export function partUploadUrl(baseUrl: string, secret: string, claims: PartUrlClaims): string {
  // both values are digits or hex: nothing in them to encode
  const query = `expires=${claims.expires}&signature=${sign(secret, claims)}`;
  return `${baseUrl}/${PART_UPLOAD_PATH}/${encodeURIComponent(claims.fileId)}/${claims.partNumber}?${query}`;
}

export type PartUrlVerdict = 'valid' | 'expired' | 'forged';

// `expires` and `signature` as they arrived in the query string.
export function verifyPartUrl(
  secret: string,
  fileId: string,
  partNumber: number,
  expires: unknown,
  signature: unknown,
  nowSeconds = Math.floor(Date.now() / 1000),
): PartUrlVerdict {
  // one canonical form: expires without leading zeros, the signature as 64 lower-case hex digits
  if (
    typeof expires !== 'string' ||
    !/^[1-9]\d{0,11}$/.test(expires) ||
    typeof signature !== 'string' ||
    !/^[0-9a-f]{64}$/.test(signature)
  ) {
    return 'forged';
  }
  const expected = Buffer.from(sign(secret, { fileId, partNumber, expires: Number(expires) }), 'hex');
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return 'forged';
  }
  return Number(expires) < nowSeconds ? 'expired' : 'valid';
}

// the secret as a key object, made once (a string key is made into one on every HMAC: a third of
// the cost of a URL, and a 10,000-part request signs 10,000)
let signingKey: { readonly secret: string; readonly key: KeyObject } | undefined;

function sign(secret: string, claims: PartUrlClaims): string {
  if (signingKey?.secret !== secret) {
    signingKey = { secret, key: createSecretKey(Buffer.from(secret, 'utf8')) };
  }
  return createHmac('sha256', signingKey.key)
    .update(`PUT\n${claims.fileId}\n${claims.partNumber}\n${claims.expires}`)
    .digest('hex');
}
