// The admission port: what the guard asks of the session, user, replay and rate-limit records to
// let one request in, asked at once so that Redis answers it in one round trip (RedisAdmission:
// one script). In the process (REDIS_URL unset), MemoryAdmission asks the in-process ports in turn.
import type { SessionRecord, UserRecord } from '@koodrive/protocol';
import type { QuotaRecord } from '@koodrive/quota';
import type { RateDecision } from './rate-limiter.js';

export const ADMISSION = Symbol('ADMISSION');

export interface AdmittedSession {
  readonly session: SessionRecord;
  // the request, counted against the session's user
  readonly rate: RateDecision;
  readonly ownQuota?: OwnQuota;
}

// The quota record of the caller's own container, read in the same round trip (create checks it);
// absent where the adapter does not read it (then create asks the quota store).
export type OwnQuota = QuotaRecord;

export type AdmittedApp =
  // the signature was used before: nothing else was looked at or counted
  | { readonly kind: 'replayed' }
  // no (well-formed) record for the user the app acts for
  | { readonly kind: 'no-user' }
  | { readonly kind: 'admitted'; readonly user: UserRecord; readonly rate: RateDecision; readonly ownQuota?: OwnQuota };

export interface Admission {
  // A session caller: the token's session with its idle expiry restarted, and the request's `units`
  // counted against its user's window; null when the token has no (well-formed) session.
  session(token: string, units: number): Promise<AdmittedSession | null>;
  // An app caller whose signature verified: the signature remembered for `replayWindowSeconds`,
  // then the record of the user it acts for, and the request's `units` counted against that user's window.
  app(signature: string, replayWindowSeconds: number, userId: string, units: number): Promise<AdmittedApp>;
}
