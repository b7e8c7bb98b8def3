// /readyz's probe of where sessions, rate limits and events live.
export const KEY_VALUE_HEALTH = Symbol('KEY_VALUE_HEALTH');

export interface KeyValueHealth {
  ping(): Promise<void>;
}
