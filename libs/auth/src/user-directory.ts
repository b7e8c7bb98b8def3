// The user records an app acts for (app authentication): Redis when REDIS_URL is set, else the
// process (the demo user).
import type { UserRecord } from '@koodrive/protocol';

export const USER_DIRECTORY = Symbol('USER_DIRECTORY');

export interface UserDirectory {
  // null when there is no (well-formed) record for the user
  find(userId: string): Promise<UserRecord | null>;
}
