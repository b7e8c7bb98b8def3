// Remembers app signatures already used, so a captured request cannot be sent again. On Redis,
// RedisAdmission's script does it (every replica sees every signature); MemoryReplayGuard in the process.
export interface ReplayGuard {
  // true the first time `key` is seen within `ttlSeconds`, false for a repeat
  firstUse(key: string, ttlSeconds: number): Promise<boolean>;
}
