// A container's storage quota, kept by KooDrive's accounting (API.md, "Quota", 13000311): Redis when
// REDIS_URL is set, else none (the embedded service has no accounting: no limit). What the
// service's open upload tasks hold against it is the database's to count (create checks both in
// one step: @koodrive/database's UploadTaskRepository).
export const QUOTA_STORE = Symbol('QUOTA_STORE');

// The accounting record as read: none (no limit), a quota, or a record that is not exactly
// {"used": <bytes>, "limit": <bytes>}, which never means "no limit" (create refuses it).
export type QuotaRecord =
  | { readonly state: 'none' }
  | { readonly state: 'set'; readonly used: number; readonly limit: number }
  | { readonly state: 'malformed'; readonly reason: string };

export interface QuotaStore {
  find(containerId: string): Promise<QuotaRecord>;
}

export const QUOTA_KEY_PREFIX = 'koodrive:quota:';
export const NO_QUOTA_RECORD: QuotaRecord = Object.freeze({ state: 'none' });

const FIELDS = ['limit', 'used'];
// JSON.parse takes up to this much before it counts as no record; a real record is ~40 bytes
const MAX_RECORD_LENGTH = 1024;

// The record as KooDrive's accounting writes it; `raw` null: no record.
export function parseQuota(raw: string | null): QuotaRecord {
  if (raw === null) {
    return NO_QUOTA_RECORD;
  }
  const malformed = (reason: string): QuotaRecord => ({ state: 'malformed', reason });
  if (raw.length > MAX_RECORD_LENGTH) {
    return malformed(`${raw.length} characters long`);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return malformed(`not JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return malformed(`not a JSON object: ${describe(value)}`);
  }
  const fields = Object.keys(value).sort();
  if (fields.length !== FIELDS.length || fields.some((field, i) => field !== FIELDS[i])) {
    return malformed(`fields ${JSON.stringify(fields)}, not exactly "used" and "limit"`);
  }
  const { used, limit } = value as Record<string, unknown>;
  for (const [name, field] of [
    ['used', used],
    ['limit', limit],
  ] as const) {
    if (!isBytes(field)) {
      return malformed(`${name} is ${describe(field)}, not an integer from 0 to 2^53-1`);
    }
  }
  return { state: 'set', used: used as number, limit: limit as number };
}

// Whether a file of `length` bytes fits beside what the container uses and its open tasks hold.
export function fits(quota: QuotaRecord, held: number, length: number): boolean {
  return quota.state === 'none' || (quota.state === 'set' && quota.used + held + length <= quota.limit);
}

function isBytes(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
