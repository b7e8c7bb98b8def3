import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Global, type LoggerService, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { APP_CONFIG, loadConfig } from '@koodrive/config';
import { EVENT_PUBLISHER, EventsModule, MemoryEventPublisher } from '@koodrive/events';
import { REDIS, RedisModule } from '@koodrive/redis';
import { AuthModule } from './auth.module.js';
import { MemoryRateLimiter } from './memory-rate-limiter.js';
import { MemoryReplayGuard } from './memory-replay-guard.js';
import { MemorySessionStore } from './memory-session.store.js';
import { MemoryUserDirectory } from './memory-user-directory.js';
import { RATE_LIMITER } from './rate-limiter.js';
import { REPLAY_GUARD } from './replay-guard.js';
import { SESSION_STORE, type SessionStore } from './session.store.js';
import { USER_DIRECTORY } from './user-directory.js';

@Global()
@Module({
  providers: [{ provide: APP_CONFIG, useValue: loadConfig({ NODE_ENV: 'test' }) }],
  exports: [APP_CONFIG],
})
class EmbeddedConfigModule {}

class LogLines implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown): void {
    this.lines.push(String(message));
  }
  error(): void {}
  warn(): void {}
}

// What the module writes to stdout while it boots (the runner's own output is not touched meanwhile).
async function stdoutOf(work: () => Promise<void>): Promise<string> {
  const write = process.stdout.write.bind(process.stdout);
  let written = '';
  process.stdout.write = (chunk: string | Uint8Array) => {
    written += String(chunk);
    return true;
  };
  try {
    await work();
  } finally {
    process.stdout.write = write;
  }
  return written;
}

describe(AuthModule.name, () => {
  it('without REDIS_URL: no Redis client, in-process ports, one log line, and the demo token on stdout', async () => {
    const logs = new LogLines();
    const moduleRef = await Test.createTestingModule({
      imports: [EmbeddedConfigModule, RedisModule, AuthModule, EventsModule],
    })
      .setLogger(logs)
      .compile();
    try {
      assert.equal(moduleRef.get(REDIS), null);
      assert.ok(moduleRef.get(SESSION_STORE) instanceof MemorySessionStore);
      assert.ok(moduleRef.get(RATE_LIMITER) instanceof MemoryRateLimiter);
      assert.ok(moduleRef.get(USER_DIRECTORY) instanceof MemoryUserDirectory);
      assert.ok(moduleRef.get(REPLAY_GUARD) instanceof MemoryReplayGuard);
      assert.ok(moduleRef.get(EVENT_PUBLISHER) instanceof MemoryEventPublisher);

      const stdout = await stdoutOf(async () => void (await moduleRef.init()));
      const match = /^KOODRIVE_TOKEN=([A-Za-z0-9_-]{43})\n$/.exec(stdout);
      assert.ok(match, `stdout: ${stdout}`);
      assert.deepEqual(
        logs.lines.filter((line) => line.includes('REDIS_URL unset')),
        ['embedded sessions, rate limits and events: in process (REDIS_URL unset)'],
      );
      assert.deepEqual(await moduleRef.get<SessionStore>(SESSION_STORE).touch(match[1]!), {
        userId: 'demo',
        containerId: 'demo',
        scopes: ['file.upload'],
      });
    } finally {
      await moduleRef.close();
    }
  });
});
