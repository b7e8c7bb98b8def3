// The parts a create or uploadUrl lists (multiParts), checked in one pass over the parsed JSON. Up to
// 10,000 of them: built into a class instance each and walked by class-transformer and
// class-validator (and by Nest's pipe, several times), they cost about a second of CPU per request.
// The rules and messages are those the DTO's decorators had: 13000102 naming the first part and
// field at fault, a wrong JSON type before a wrong value. The DTO property carries
// @ArePartRequests, and the validation pipe hands the list here instead of to class-validator.
import 'reflect-metadata';
import { ApiException } from '@koodrive/errors';
import { MAX_FILE_LENGTH, MAX_PARTS, MAX_PARTS_PER_REQUEST, MAX_PART_SIZE } from '@koodrive/limits';
import { isHashCtxValue, HASH_CTX_MESSAGE } from './field-rules.js';
import type { RequestedPart } from '../part-rules.js';

const PART_REQUESTS = Symbol('partRequests');

export interface PartRequestsRule {
  readonly property: string;
  // uploadUrl must list at least one part; create may list none
  readonly required: boolean;
}

// Marks the DTO property that holds the part list; the pipe checks it with checkPartRequests.
export const ArePartRequests =
  (options: { readonly required: boolean }): PropertyDecorator =>
  (target, property) => {
    const rule: PartRequestsRule = { property: String(property), required: options.required };
    Reflect.defineMetadata(PART_REQUESTS, rule, target.constructor);
  };

export function partRequestsRule(metatype: unknown): PartRequestsRule | undefined {
  return typeof metatype === 'function'
    ? (Reflect.getMetadata(PART_REQUESTS, metatype) as PartRequestsRule | undefined)
    : undefined;
}

const integerFrom =
  (min: number, max: number) =>
  (value: unknown): string | null => {
    if (!Number.isInteger(value)) {
      return 'must be an integer';
    }
    return (value as number) < min || (value as number) > max ? `must be ${min} to ${max}` : null;
  };

// A field's rule: null when the value passes, else what is wrong with it.
type FieldRule = (value: unknown) => string | null;

const FIELDS: readonly (readonly [keyof RequestedPart, FieldRule, 'required' | 'optional'])[] = [
  ['partNumber', integerFrom(1, MAX_PARTS), 'required'],
  ['partSize', integerFrom(0, MAX_PART_SIZE), 'required'],
  ['partOffset', integerFrom(0, MAX_FILE_LENGTH), 'optional'],
  ['hashCtx', (value) => (isHashCtxValue(value) ? null : HASH_CTX_MESSAGE), 'optional'],
];

// The parts as plain objects of their known fields (the others dropped, as the DTOs drop unknown
// fields); undefined when none was given and none is required.
export function checkPartRequests(
  value: unknown,
  required: boolean,
  property = 'multiParts',
): RequestedPart[] | undefined {
  const fail = (detail: string): never => {
    throw ApiException.invalidParameter(`${property}${detail}`);
  };
  if (value === undefined || value === null) {
    return required ? fail(': must be an array') : undefined;
  }
  if (!Array.isArray(value)) {
    return fail(': must be an array');
  }
  if (value.length > MAX_PARTS_PER_REQUEST) {
    fail(`: must hold at most ${MAX_PARTS_PER_REQUEST} parts`);
  }
  if (required && value.length === 0) {
    fail(': must hold at least one part');
  }
  const parts: RequestedPart[] = new Array<RequestedPart>(value.length);
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      fail(`[${i}]: must be an object`);
    }
    const fields = item as Record<string, unknown>;
    const part: Record<string, unknown> = {};
    for (const [name, rule, presence] of FIELDS) {
      const field = fields[name];
      if (field === undefined || field === null) {
        if (presence === 'required') {
          fail(`[${i}].${name}: ${rule(undefined)}`);
        }
        continue;
      }
      const wrong = rule(field);
      if (wrong !== null) {
        fail(`[${i}].${name}: ${wrong}`);
      }
      part[name] = field;
    }
    parts[i] = part as unknown as RequestedPart;
  }
  return parts;
}
