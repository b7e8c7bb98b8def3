// A container's storage quota, kept by KooDrive's accounting (API.md, 13000311): Redis when
// REDIS_URL is set, else none (the embedded service has no accounting: no limit).
export const QUOTA_STORE = Symbol('QUOTA_STORE');

export interface Quota {
  // bytes the container holds, and may hold
  readonly used: number;
  readonly limit: number;
}

export interface QuotaStore {
  // null: no record, so no limit
  find(containerId: string): Promise<Quota | null>;
}

export const QUOTA_KEY_PREFIX = 'koodrive:quota:';

// The record as KooDrive's accounting writes it; one that is not a quota counts as none.
export function parseQuota(raw: string): Quota | null {
  try {
    const value = JSON.parse(raw) as unknown;
    if (typeof value !== 'object' || value === null) {
      return null;
    }
    const { used, limit } = value as Record<string, unknown>;
    return isBytes(used) && isBytes(limit) ? { used, limit } : null;
  } catch {
    return null;
  }
}

// Whether a file of `length` bytes still fits.
export function fits(quota: Quota | null, length: number): boolean {
  return quota === null || quota.used + length <= quota.limit;
}

function isBytes(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
