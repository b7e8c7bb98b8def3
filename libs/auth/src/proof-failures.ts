// Wrong proofCodes, counted per user and digest (API.md, proofCode): after PROOF_FAILURE_LIMIT wrong
// proofs for one sha256 within PROOF_FAILURE_WINDOW_SECONDS, the user (whatever session or app)
// gets no flash upload of that digest across containers until the window ends, so guessing the
// 8 bytes of someone else's file cannot go on. On Redis (every replica counts together), or in the
// process (REDIS_URL unset).
export const PROOF_FAILURES = Symbol('PROOF_FAILURES');

export const PROOF_FAILURE_LIMIT = 3;
export const PROOF_FAILURE_WINDOW_SECONDS = 24 * 60 * 60;
export const PROOF_FAILURE_KEY_PREFIX = 'koodrive:proof-failures:';

export interface ProofFailures {
  // whether the user has used up its wrong proofs for this digest
  exhausted(userId: string, sha256: string): Promise<boolean>;
  // counts one wrong proof; the window starts with the first
  record(userId: string, sha256: string): Promise<void>;
}

export function proofFailureKey(userId: string, sha256: string): string {
  return `${PROOF_FAILURE_KEY_PREFIX}${userId}:${sha256}`;
}
