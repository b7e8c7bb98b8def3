// Remembers app signatures already used, so a captured request cannot be sent again: Redis when
// REDIS_URL is set (every replica sees every signature), else the process.
export const REPLAY_GUARD = Symbol('REPLAY_GUARD');

export interface ReplayGuard {
  // true the first time `key` is seen within `ttlSeconds`, false for a repeat
  firstUse(key: string, ttlSeconds: number): Promise<boolean>;
}
