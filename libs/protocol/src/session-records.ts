// The records shared with KooDrive's session and user services (API.md, "Credentials"): sessions
// under koodrive:session:<sha256(token)>, users under koodrive:user:<userId>, both JSON.
import { createHash } from 'node:crypto';

export const SESSION_KEY_PREFIX = 'koodrive:session:';
export const USER_KEY_PREFIX = 'koodrive:user:';
export const SESSION_TTL_SECONDS = 1200;
export const UPLOAD_SCOPE = 'file.upload';

// A shared folder the user may work in, with what they may do there.
export interface SharedFolderGrant {
  readonly folderId: string;
  readonly containerId: string;
  readonly scopes: readonly string[];
}

export interface SessionRecord {
  readonly userId: string;
  readonly containerId: string;
  readonly scopes: readonly string[];
  readonly sharedFolders?: readonly SharedFolderGrant[];
}

// The user an app acts for (app authentication): written by KooDrive's user service.
export interface UserRecord {
  readonly containerId: string;
  readonly sharedFolders?: readonly SharedFolderGrant[];
}

// The raw token is never stored: the key holds its SHA-256.
export function sessionKey(token: string): string {
  return SESSION_KEY_PREFIX + createHash('sha256').update(token).digest('hex');
}

export function userKey(userId: string): string {
  return USER_KEY_PREFIX + userId;
}

// A session record as the session service wrote it; null when it is not one (the token is then
// as good as unknown). Malformed shared-folder grants are left out, never trusted.
export function parseSessionRecord(raw: string): SessionRecord | null {
  const value = parseObject(raw);
  if (value === null) {
    return null;
  }
  const { userId, containerId, scopes } = value;
  if (!isId(userId) || !isId(containerId) || !isStrings(scopes)) {
    return null;
  }
  return { userId, containerId, scopes, ...grantsOf(value.sharedFolders) };
}

export function parseUserRecord(raw: string): UserRecord | null {
  const value = parseObject(raw);
  if (value === null || !isId(value.containerId)) {
    return null;
  }
  return { containerId: value.containerId, ...grantsOf(value.sharedFolders) };
}

function parseObject(raw: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

// `sharedFolders` of a record when it has any (a record without them keeps its shape).
function grantsOf(value: unknown): { sharedFolders?: SharedFolderGrant[] } {
  if (!Array.isArray(value)) {
    return {};
  }
  const sharedFolders = value.flatMap((grant: unknown) => {
    if (typeof grant !== 'object' || grant === null) {
      return [];
    }
    const { folderId, containerId, scopes } = grant as Record<string, unknown>;
    return isId(folderId) && isId(containerId) && isStrings(scopes) ? [{ folderId, containerId, scopes }] : [];
  });
  return { sharedFolders };
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && value.length <= 128;
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
