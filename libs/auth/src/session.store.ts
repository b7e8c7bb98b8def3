import { Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { DependencyUnavailableError } from '@koodrive/errors';
import { timeDependency } from '@koodrive/metrics';
import { InjectRedis } from '@koodrive/redis';
import { SESSION_TTL_SECONDS, type SessionRecord, sessionKey } from './session-key.js';

@Injectable()
export class SessionStore {
  constructor(@InjectRedis() private readonly redis: Redis) {}

  // Reads the session and restarts its 20 minutes in one command; null when unknown or expired.
  async touch(token: string): Promise<SessionRecord | null> {
    let raw: string | null;
    try {
      raw = await timeDependency('redis', 'GETEX', () =>
        this.redis.getex(sessionKey(token), 'EX', SESSION_TTL_SECONDS),
      );
    } catch (error) {
      throw new DependencyUnavailableError('redis', error);
    }
    return raw === null ? null : parseSession(raw);
  }
}

function parseSession(raw: string): SessionRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) {
    return null;
  }
  const { userId, containerId, scopes } = value as Record<string, unknown>;
  if (
    typeof userId !== 'string' ||
    userId === '' ||
    typeof containerId !== 'string' ||
    containerId === '' ||
    !Array.isArray(scopes) ||
    !scopes.every((s): s is string => typeof s === 'string')
  ) {
    return null;
  }
  return { userId, containerId, scopes };
}
