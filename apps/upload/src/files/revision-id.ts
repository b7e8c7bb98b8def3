// KooDrive's revisionId: `<assetId>.<versionId>`, two decimal 64-bit numbers
// (1618739290026578816.1763131768673766528). The assetId is the file's, drawn at create; each
// version of the file draws a versionId. Both are random 63-bit values: unique in practice, opaque.
import { createHash, randomBytes } from 'node:crypto';

const LOW_63_BITS = (1n << 63n) - 1n;

function from(bytes: Buffer): string {
  return (bytes.readBigUInt64BE(0) & LOW_63_BITS).toString();
}

// A versionId, also the suffix of the version's own object key.
export function newVersionId(): string {
  return from(randomBytes(8));
}

// The revisionId of a new file's first content.
export function newRevisionId(): string {
  return `${from(randomBytes(8))}.${newVersionId()}`;
}

// The revisionId of a version of the file whose content has `fileRevisionId`: the same asset.
export function versionRevisionId(fileRevisionId: string, versionId: string): string {
  return `${fileRevisionId.slice(0, fileRevisionId.indexOf('.'))}.${versionId}`;
}

// The revisionId a file created before versions gets when first needed: derived from its id (its
// unguessable id makes it as opaque as a drawn one), so two requests giving it one at once agree.
export function legacyRevisionId(fileId: string): string {
  const digest = createHash('sha256').update(`koodrive:revision:${fileId}`).digest();
  return `${from(digest.subarray(0, 8))}.${from(digest.subarray(8, 16))}`;
}
