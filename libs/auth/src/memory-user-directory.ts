import type { UserRecord } from '@koodrive/protocol';
import type { UserDirectory } from './user-directory.js';

// User records in the process (REDIS_URL unset): the demo user's, and those a test puts.
export class MemoryUserDirectory implements UserDirectory {
  private readonly users = new Map<string, UserRecord>();

  put(userId: string, record: UserRecord): void {
    this.users.set(userId, record);
  }

  find(userId: string): Promise<UserRecord | null> {
    return Promise.resolve(this.users.get(userId) ?? null);
  }
}
