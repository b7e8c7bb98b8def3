// The service's own part URLs: a plain PUT of the part's bytes, no Authorization header, signed
// and expiring as an S3 presigned URL is. The signature (HMAC-SHA256 under PART_URL_SECRET) binds
// the file, the part number and the expiry; anything else about the part is read from its plan.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const PART_UPLOAD_PATH = 'koodrive/ose/v1/files/multipart/parts';

export interface PartUrlClaims {
  readonly fileId: string;
  readonly partNumber: number;
  // unix seconds
  readonly expires: number;
}

export function partUploadUrl(baseUrl: string, secret: string, claims: PartUrlClaims): string {
  const query = new URLSearchParams({ expires: String(claims.expires), signature: sign(secret, claims) });
  return `${baseUrl}/${PART_UPLOAD_PATH}/${encodeURIComponent(claims.fileId)}/${claims.partNumber}?${query.toString()}`;
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

function sign(secret: string, claims: PartUrlClaims): string {
  return createHmac('sha256', secret)
    .update(`PUT\n${claims.fileId}\n${claims.partNumber}\n${claims.expires}`)
    .digest('hex');
}
