import type { Redis } from 'ioredis';
import { redisCommand } from '@koodrive/redis';
import {
  PROOF_FAILURE_LIMIT,
  PROOF_FAILURE_WINDOW_SECONDS,
  proofFailureKey,
  type ProofFailures,
} from './proof-failures.js';

// KEYS[1] the user's count for the digest; ARGV[1] the window. The window starts with the first failure.
const RECORD = `
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
return n
`;

interface ProofFailureCommands {
  koodriveRecordProofFailure(key: string, windowSeconds: number): Promise<number>;
}

export class RedisProofFailures implements ProofFailures {
  private readonly commands: ProofFailureCommands;

  constructor(private readonly redis: Redis) {
    redis.defineCommand('koodriveRecordProofFailure', { numberOfKeys: 1, lua: RECORD });
    this.commands = redis as unknown as ProofFailureCommands;
  }

  async exhausted(userId: string, sha256: string): Promise<boolean> {
    // a key of another type is not a count: it blocks, rather than opening the door
    const count = await redisCommand('GET', () => this.redis.get(proofFailureKey(userId, sha256)), {
      wrongType: String(PROOF_FAILURE_LIMIT),
    });
    return count !== null && !(Number(count) < PROOF_FAILURE_LIMIT);
  }

  async record(userId: string, sha256: string): Promise<void> {
    await redisCommand('PROOF_FAILURE', () =>
      this.commands.koodriveRecordProofFailure(proofFailureKey(userId, sha256), PROOF_FAILURE_WINDOW_SECONDS),
    );
  }
}
