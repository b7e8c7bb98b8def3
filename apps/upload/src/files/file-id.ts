import { randomBytes, randomInt } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

// Opaque and unguessable, shaped like KooDrive's ("Fi" + 31 base62 characters, ~184 random bits).
export function newFileId(): string {
  let id = 'Fi';
  for (let i = 0; i < 31; i++) {
    id += ALPHABET[randomInt(ALPHABET.length)];
  }
  return id;
}

// Written into the object's metadata at create: tells this upload's object from any other.
export function newUploadToken(): string {
  return randomBytes(16).toString('hex');
}

export const UPLOAD_TOKEN_METADATA = 'koodrive-upload-token';
