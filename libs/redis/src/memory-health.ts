import type { KeyValueHealth } from './key-value-health.js';

// In process: nothing to reach, always ready.
export class MemoryHealth implements KeyValueHealth {
  ping(): Promise<void> {
    return Promise.resolve();
  }
}
