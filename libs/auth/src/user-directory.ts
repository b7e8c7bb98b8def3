// The user records an app acts for (app authentication). On Redis, RedisAdmission's script reads
// them; MemoryUserDirectory holds them in the process (the demo user).
import type { UserRecord } from '@koodrive/protocol';

export interface UserDirectory {
  // null when there is no (well-formed) record for the user
  find(userId: string): Promise<UserRecord | null>;
}
