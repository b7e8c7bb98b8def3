// Parallel-mode uploads carry each part's starting SHA-256 state (hashCtx). The file's digest then
// follows from a chain: part 1 starts from SHA-256's initial state, every part ends in the state the
// next one starts from, and the last part's end, finalised with the file's length, is the digest.
import { HashCtxError, type HashState, parseHashCtx, SHA256_INITIAL_STATE } from '@koodrive/hashing';
import type { PartPlan, PartRecord } from '@koodrive/database';
import { sameEtag, type StoredPart } from '@koodrive/storage';

export type ChainOutcome =
  // every link holds: the file's digest, with no byte read back
  | { readonly kind: 'proven'; readonly sha256: string }
  // a link does not hold: the file is not what the parts' states say
  | { readonly kind: 'broken'; readonly partNumber: number; readonly detail: string }
  // some part was not hashed by the service (or changed since): the object must be read back
  | { readonly kind: 'unproven' };

const INITIAL: HashState = { h: SHA256_INITIAL_STATE, offset: 0 };

// The SHA-256 state a part's bytes continue: its hashCtx, or the initial state for a part at
// offset 0. Null for a part without hashCtx elsewhere (sequential mode: stored, not hashed).
export function partStartState(part: PartPlan): HashState | null {
  if (part.hashCtx !== null) {
    return parseHashCtx(part.hashCtx);
  }
  return part.partNumber === 1 || part.partOffset === 0 ? INITIAL : null;
}

// The digest the stored parts' hash chain proves. `listed` are the parts in the store, already
// checked to be 1..N adding up to the file's length; `records` what the service hashed of the
// parts it uploaded. A part's record counts only for the bytes of the very PUT that made it: the
// record is cleared when a PUT through the service starts, and a part for which a URL straight to
// storage was ever handed out (viaServiceOnly false) is never taken from its record, whatever its
// ETag, since bytes of the same MD5 may have replaced it there. The stored part must still show the
// record's ETag and size (a cheap check that catches a part replaced by other means, never a proof).
export function digestFromPartChain(listed: readonly StoredPart[], records: readonly PartRecord[]): ChainOutcome {
  const byNumber = new Map(records.map((record) => [record.partNumber, record]));
  const hashed = listed.map((part) => {
    const record = byNumber.get(part.partNumber);
    const uploaded = record?.viaServiceOnly === true ? record.uploaded : null;
    return uploaded !== null &&
      uploaded.size === part.size &&
      sameEtag(uploaded.etag, part.etag) &&
      isRecordedState(uploaded.hashedFrom) &&
      (uploaded.hashedTo === null || isRecordedState(uploaded.hashedTo))
      ? uploaded
      : null;
  });
  if (listed.length === 0 || hashed.some((uploaded) => uploaded === null)) {
    return { kind: 'unproven' };
  }
  let expected = INITIAL;
  let previous: number | undefined;
  for (const [index, part] of listed.entries()) {
    const uploaded = hashed[index]!;
    const from = parseHashCtx(uploaded.hashedFrom);
    const broken = describeBrokenLink(part.partNumber, previous, from, expected);
    if (broken !== null) {
      return { kind: 'broken', partNumber: part.partNumber, detail: broken };
    }
    if (index === listed.length - 1) {
      return uploaded.sha256 === null
        ? {
            kind: 'broken',
            partNumber: part.partNumber,
            detail: `part ${part.partNumber} was not hashed as the last part`,
          }
        : { kind: 'proven', sha256: uploaded.sha256 };
    }
    if (uploaded.hashedTo === null) {
      return {
        kind: 'broken',
        partNumber: part.partNumber,
        detail: `part ${part.partNumber} does not end on a 64-byte boundary`,
      };
    }
    expected = parseHashCtx(uploaded.hashedTo);
    previous = part.partNumber;
  }
  return { kind: 'unproven' };
}

// Whether the service's record holds a SHA-256 state (one at offset 0 must be the initial state): a
// record that does not is not taken, and the object is read back instead.
function isRecordedState(hashCtx: string): boolean {
  try {
    parseHashCtx(hashCtx);
    return true;
  } catch (error) {
    if (error instanceof HashCtxError) {
      return false;
    }
    throw error;
  }
}

// What is wrong with a part starting from `from` where the chain says `expected`; null if nothing.
export function describeBrokenLink(
  partNumber: number,
  previous: number | undefined,
  from: HashState,
  expected: HashState,
): string | null {
  if (from.offset !== expected.offset) {
    return `part ${partNumber}'s hashCtx counts ${from.offset} bytes, the file holds ${expected.offset} bytes before it`;
  }
  if (!from.h.every((word, i) => word === expected.h[i])) {
    return previous === undefined
      ? `part ${partNumber}'s hashCtx is not SHA-256's initial state`
      : `part ${partNumber}'s hashCtx is not the state part ${previous} ends in`;
  }
  return null;
}

// A range of the file hashed from a known state: the parts of a parallel-mode upload.
export interface HashedRange {
  readonly partNumber: number;
  readonly start: HashState;
  // exclusive
  readonly end: number;
}

// The file cut where its parts' hashCtx say they start, for hashing the ranges side by side:
// null when some part has no hashCtx (part 1 needs none) or the offsets don't partition the file.
// Ranges follow the planned offsets, not the store's part boundaries: the chain holds either way.
export function rangesFromHashCtx(plans: readonly PartRecord[], length: number): HashedRange[] | null {
  if (length === 0 || plans.length === 0) {
    return null;
  }
  const starts: { partNumber: number; start: HashState }[] = [];
  for (const plan of plans) {
    if (plan.hashCtx === null) {
      if (plan.partNumber !== 1) {
        return null;
      }
      starts.push({ partNumber: 1, start: INITIAL });
    } else {
      starts.push({ partNumber: plan.partNumber, start: parseHashCtx(plan.hashCtx) });
    }
  }
  if (starts[0]!.start.offset !== 0) {
    return null;
  }
  const ranges: HashedRange[] = [];
  for (const [index, { partNumber, start }] of starts.entries()) {
    const end = starts[index + 1]?.start.offset ?? length;
    if (end <= start.offset || end > length) {
      return null;
    }
    ranges.push({ partNumber, start, end });
  }
  return ranges;
}
