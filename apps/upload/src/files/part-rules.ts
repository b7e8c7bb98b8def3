// Rules for parts: what create and uploadUrl accept (API.md) and what complete requires of what was
// uploaded.
import type { PartPlan } from '@koodrive/database';
import { encodeHashCtx, HashCtxError, hashStateOf } from '@koodrive/hashing';
import type { StoredPart } from '@koodrive/storage';
import { MIN_PART_SIZE, SHA256_BLOCK } from '@koodrive/limits';

export interface RequestedPart {
  readonly partNumber: number;
  readonly partSize: number;
  readonly partOffset?: number;
  // the 8 state words (with partOffset) or the base64 form
  readonly hashCtx?: string | readonly number[];
}

export class PartRuleError extends Error {}

// Checks the requested parts against the file and the parts planned before; returns the plans
// to store, in the order asked. A part asked for again replaces its earlier plan. A part asked for
// without partOffset gets the offset that follows from the part before it, when that is known
// (a part starts where the one before it ends).
export function planParts(
  length: number,
  requested: readonly RequestedPart[],
  stored: readonly PartPlan[],
): PartPlan[] {
  const numbers = new Set<number>();
  const asked = requested.map((part, index) => {
    const at = `multiParts[${index}]`;
    if (numbers.has(part.partNumber)) {
      throw new PartRuleError(`${at}.partNumber: part ${part.partNumber} is asked for twice`);
    }
    numbers.add(part.partNumber);
    return { at, part, start: startOf(part, at) };
  });
  const byNumber = new Map<number, { offset: number | null; size: number }>(
    stored
      .filter((plan) => !numbers.has(plan.partNumber))
      .map((plan) => [plan.partNumber, { offset: plan.partOffset, size: plan.partSize }]),
  );
  for (const { part, start } of [...asked].sort((a, b) => a.part.partNumber - b.part.partNumber)) {
    const before = byNumber.get(part.partNumber - 1);
    const follows = before?.offset === null || before === undefined ? null : before.offset + before.size;
    byNumber.set(part.partNumber, { offset: start.offset ?? follows, size: part.partSize });
  }
  const plans = asked.map(({ at, part, start }) =>
    planPart(length, part, { ...start, offset: byNumber.get(part.partNumber)!.offset }, at),
  );
  checkPlacement([...stored.filter((plan) => !numbers.has(plan.partNumber)), ...plans]);
  return plans;
}

interface PartStart {
  readonly offset: number | null;
  // the base64 form, as stored
  readonly hashCtx: string | null;
}

function startOf(part: RequestedPart, at: string): PartStart {
  if (part.hashCtx === undefined) {
    return { offset: part.partOffset ?? (part.partNumber === 1 ? 0 : null), hashCtx: null };
  }
  try {
    const state = hashStateOf(part.hashCtx, part.partOffset);
    return { offset: state.offset, hashCtx: encodeHashCtx(state) };
  } catch (error) {
    throw new PartRuleError(`${at}.hashCtx: ${error instanceof HashCtxError ? error.message : 'invalid'}`);
  }
}

function checkPlacement(all: readonly PartPlan[]): void {
  const placed = all
    .filter((plan): plan is PartPlan & { partOffset: number } => plan.partOffset !== null)
    .sort((a, b) => a.partOffset - b.partOffset || a.partNumber - b.partNumber);
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

function planPart(length: number, part: RequestedPart, start: PartStart, at: string): PartPlan {
  const { offset, hashCtx } = start;
  if (length === 0) {
    if (part.partNumber !== 1 || part.partSize !== 0 || (offset ?? 0) !== 0) {
      throw new PartRuleError(`${at}: an empty file has one part, number 1, of size 0`);
    }
    return { partNumber: 1, partSize: 0, partOffset: 0, hashCtx };
  }
  if (part.partSize === 0) {
    throw new PartRuleError(`${at}.partSize: 0 is allowed only for an empty file`);
  }
  if (part.partNumber === 1 && offset !== 0) {
    throw new PartRuleError(`${at}.partOffset: part 1 starts at 0`);
  }
  const end = (offset ?? 0) + part.partSize;
  if (end > length) {
    throw new PartRuleError(`${at}: runs past the file's length ${length}`);
  }
  // only the file's last part may be under 5 MiB; without an offset, we can't tell yet (complete checks)
  const isLast = offset !== null && end === length;
  if (part.partSize < MIN_PART_SIZE && offset !== null && !isLast) {
    throw new PartRuleError(`${at}.partSize: must be at least ${MIN_PART_SIZE} unless it is the last part`);
  }
  if (hashCtx !== null && !isLast && part.partSize % SHA256_BLOCK !== 0) {
    throw new PartRuleError(`${at}.partSize: must be a multiple of ${SHA256_BLOCK} in parallel mode`);
  }
  return { partNumber: part.partNumber, partSize: part.partSize, partOffset: offset, hashCtx };
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
