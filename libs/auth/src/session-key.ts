// The session contract shared with KooDrive's session service (API.md, "Access tokens").
// Plain TypeScript without aliases, so tools/token.ts can run it directly.
import { createHash } from 'node:crypto';

export const SESSION_KEY_PREFIX = 'koodrive:session:';
export const SESSION_TTL_SECONDS = 1200;
export const UPLOAD_SCOPE = 'file.upload';

export interface SessionRecord {
  readonly userId: string;
  readonly containerId: string;
  readonly scopes: readonly string[];
}

// The raw token is never stored: the key holds its SHA-256.
export function sessionKey(token: string): string {
  return SESSION_KEY_PREFIX + createHash('sha256').update(token).digest('hex');
}
