// Rules for parts: what create and uploadUrl accept (API.md) and what complete requires of what was
// uploaded.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { PartPlan } from '@koodrive/database';
import { encodeHashCtx, HashCtxError, hashStateOf } from '@koodrive/hashing';
import type { StoredPart } from '@koodrive/storage';
import { MAX_PARTS, MIN_PART_SIZE, SHA256_BLOCK } from '@koodrive/limits';

export interface RequestedPart {
  readonly partNumber: number;
  readonly partSize: number;
  readonly partOffset?: number;
  // the 8 state words (with partOffset) or the base64 form
  readonly hashCtx?: string | readonly number[];
}

export class PartRuleError extends Error {}

// A plan as it is stored, with the state words its hashCtx holds (echoed to the client as it sent
// them, without decoding the stored form again).
export interface PlannedPart extends PartPlan {
  readonly hashWords: readonly number[] | null;
}

// Checks the requested parts against the file and the parts planned before; returns the plans
// to store, in the order asked. A part asked for again replaces its earlier plan. A part asked for
// without partOffset gets the offset that follows from the part before it, when that is known
// (a part starts where the one before it ends). Up to 10,000 parts a request: what is known of
// each part number lives in arrays indexed by it, and nothing is built per part but its plan.
// `starts`: startsOf(requested), when a long list had them worked out a slice at a time.
export function planParts(
  length: number,
  requested: readonly RequestedPart[],
  stored: readonly PartPlan[],
  starts?: readonly PartStart[],
): PlannedPart[] {
  // by part number: the index asked at (-1: not asked), whether an offset and size are known of
  // it (asked, or planned before), and they
  const askedAt = new Int32Array(MAX_PARTS + 1).fill(-1);
  const known = new Uint8Array(MAX_PARTS + 1);
  const offsets = new Float64Array(MAX_PARTS + 1).fill(NaN);
  const sizes = new Float64Array(MAX_PARTS + 1);
  for (let i = 0; i < requested.length; i++) {
    const part = requested[i]!;
    if (askedAt[part.partNumber] !== -1) {
      throw new PartRuleError(`${at(i)}.partNumber: part ${part.partNumber} is asked for twice`);
    }
    askedAt[part.partNumber] = i;
  }
  starts ??= requested.map(startOf);
  const kept = stored.filter((plan) => askedAt[plan.partNumber] === -1);
  for (const plan of kept) {
    known[plan.partNumber] = 1;
    offsets[plan.partNumber] = plan.partOffset ?? NaN;
    sizes[plan.partNumber] = plan.partSize;
  }
  // in part-number order, so a part's offset may follow from the part before it, asked or not
  for (let number = 1; number <= MAX_PARTS; number++) {
    const i = askedAt[number]!;
    if (i === -1) {
      continue;
    }
    const follows = known[number - 1] === 1 ? offsets[number - 1]! + sizes[number - 1]! : NaN;
    known[number] = 1;
    offsets[number] = starts[i]!.offset ?? follows;
    sizes[number] = requested[i]!.partSize;
  }
  const plans = new Array<PlannedPart>(requested.length);
  for (let i = 0; i < requested.length; i++) {
    const part = requested[i]!;
    const offset = offsets[part.partNumber]!;
    plans[i] = planPart(length, part, starts[i]!, Number.isNaN(offset) ? null : offset, i);
  }
  checkPlacement(kept.length === 0 ? plans : [...kept, ...plans]);
  return plans;
}

// where a requested part is, for messages (made only when one is needed)
function at(index: number): string {
  return `multiParts[${index}]`;
}

// Where each requested part starts, its hashCtx decoded and encoded as stored (most of planning's
// cost: about 2 µs a part), `slice` parts a turn of the event loop, each in a turn of its own (the
// first not on the tail of the list's validation), so that a list of 10,000 never holds the loop
// for long.
export async function startsOf(requested: readonly RequestedPart[], slice: number): Promise<PartStart[]> {
  const starts = new Array<PartStart>(requested.length);
  for (let i = 0; i < requested.length; i++) {
    if (i % slice === 0) {
      await yieldToLoop();
    }
    starts[i] = startOf(requested[i]!, i);
  }
  return starts;
}

export interface PartStart {
  readonly offset: number | null;
  // the base64 form, as stored, and its words
  readonly hashCtx: string | null;
  readonly hashWords: readonly number[] | null;
}

function startOf(part: RequestedPart, index: number): PartStart {
  if (part.hashCtx === undefined) {
    return { offset: part.partOffset ?? (part.partNumber === 1 ? 0 : null), hashCtx: null, hashWords: null };
  }
  try {
    const state = hashStateOf(part.hashCtx, part.partOffset);
    return { offset: state.offset, hashCtx: encodeHashCtx(state), hashWords: state.h };
  } catch (error) {
    throw new PartRuleError(`${at(index)}.hashCtx: ${error instanceof HashCtxError ? error.message : 'invalid'}`);
  }
}

// No two parts overlap, and parts lie in part-number order. Sorted by offset (and number) first,
// unless they come so already, as a client's list does.
function checkPlacement(all: readonly PartPlan[]): void {
  const placed = all.filter((plan): plan is PartPlan & { partOffset: number } => plan.partOffset !== null);
  const inOrder = (a: PartPlan & { partOffset: number }, b: PartPlan & { partOffset: number }): number =>
    a.partOffset - b.partOffset || a.partNumber - b.partNumber;
  if (!placed.every((plan, i) => i === 0 || inOrder(placed[i - 1]!, plan) <= 0)) {
    placed.sort(inOrder);
  }
  for (let i = 1; i < placed.length; i++) {
    const before = placed[i - 1]!;
    const current = placed[i]!;
    if (before.partOffset + before.partSize > current.partOffset) {
      throw new PartRuleError(`multiParts: part ${current.partNumber} overlaps part ${before.partNumber}`);
    }
    if (before.partNumber > current.partNumber) {
      throw new PartRuleError(`multiParts: part ${current.partNumber} lies after part ${before.partNumber}`);
    }
  }
}

function planPart(
  length: number,
  part: RequestedPart,
  start: PartStart,
  offset: number | null,
  index: number,
): PlannedPart {
  const { hashCtx, hashWords } = start;
  if (length === 0) {
    if (part.partNumber !== 1 || part.partSize !== 0 || (offset ?? 0) !== 0) {
      throw new PartRuleError(`${at(index)}: an empty file has one part, number 1, of size 0`);
    }
    return { partNumber: 1, partSize: 0, partOffset: 0, hashCtx, hashWords };
  }
  if (part.partSize === 0) {
    throw new PartRuleError(`${at(index)}.partSize: 0 is allowed only for an empty file`);
  }
  if (part.partNumber === 1 && offset !== 0) {
    throw new PartRuleError(`${at(index)}.partOffset: part 1 starts at 0`);
  }
  const end = (offset ?? 0) + part.partSize;
  if (end > length) {
    throw new PartRuleError(`${at(index)}: runs past the file's length ${length}`);
  }
  // only the file's last part may be under 5 MiB; without an offset, we can't tell yet (complete checks)
  const isLast = offset !== null && end === length;
  if (part.partSize < MIN_PART_SIZE && offset !== null && !isLast) {
    throw new PartRuleError(`${at(index)}.partSize: must be at least ${MIN_PART_SIZE} unless it is the last part`);
  }
  if (hashCtx !== null && !isLast && part.partSize % SHA256_BLOCK !== 0) {
    throw new PartRuleError(`${at(index)}.partSize: must be a multiple of ${SHA256_BLOCK} in parallel mode`);
  }
  return { partNumber: part.partNumber, partSize: part.partSize, partOffset: offset, hashCtx, hashWords };
}

// What is wrong with the uploaded parts, in words for the client; null when they make the file.
// `planned`: the part numbers the client asked URLs for, so a last part never uploaded is named.
export function describeIncompleteParts(
  parts: readonly StoredPart[],
  length: number,
  planned: readonly number[] = [],
): string | null {
  if (parts.length === 0) {
    return 'missing parts: 1';
  }
  const last = parts[parts.length - 1]!.partNumber;
  const present = new Set(parts.map((p) => p.partNumber));
  const missing: number[] = [];
  for (let n = 1; n <= last && missing.length <= 20; n++) {
    if (!present.has(n)) {
      missing.push(n);
    }
  }
  if (missing.length > 0) {
    return `missing parts: ${list(missing)}`;
  }
  const small = parts.filter((p) => p.partNumber !== last && p.size < MIN_PART_SIZE).map((p) => p.partNumber);
  if (small.length > 0) {
    return `parts under ${MIN_PART_SIZE} bytes that are not the last part: ${list(small)}`;
  }
  const total = parts.reduce((sum, p) => sum + p.size, 0);
  const plannedAfter = planned.filter((n) => n > last).sort((a, b) => a - b);
  if (total < length && plannedAfter.length > 0) {
    return `missing parts: ${list(plannedAfter)}`;
  }
  if (total !== length) {
    return `parts 1-${last} hold ${total} bytes, the file's length is ${length}`;
  }
  return null;
}

function list(numbers: readonly number[]): string {
  return numbers.length > 20 ? `${numbers.slice(0, 20).join(', ')}, ...` : numbers.join(', ');
}
