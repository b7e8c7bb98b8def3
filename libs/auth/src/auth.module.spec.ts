import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Global, type LoggerService, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { APP_CONFIG, loadConfig } from '@koodrive/config';
import { EVENT_PUBLISHER, EventsModule, MemoryEventPublisher } from '@koodrive/events';
import { REDIS, RedisModule } from '@koodrive/redis';
import { ADMISSION, type Admission } from './admission.js';
import { AuthModule } from './auth.module.js';
import { MemoryAdmission } from './memory-admission.js';
import { MemorySessionStore } from './memory-session.store.js';
import { SESSION_STORE } from './session.store.js';

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
      assert.ok(moduleRef.get(ADMISSION) instanceof MemoryAdmission);
      assert.ok(moduleRef.get(EVENT_PUBLISHER) instanceof MemoryEventPublisher);

      const stdout = await stdoutOf(async () => void (await moduleRef.init()));
      const match = /^KOODRIVE_TOKEN=([A-Za-z0-9_-]{43})\n$/.exec(stdout);
      assert.ok(match, `stdout: ${stdout}`);
      assert.deepEqual(
        logs.lines.filter((line) => line.includes('REDIS_URL unset')),
        ['embedded sessions, rate limits and events: in process (REDIS_URL unset)'],
      );
      // the demo session is the one admission reads, and the demo user is there for apps
      const admission = moduleRef.get<Admission>(ADMISSION);
      assert.deepEqual((await admission.session(match[1]!, 1))?.session, {
        userId: 'demo',
        containerId: 'demo',
        scopes: ['file.upload'],
      });
      const app = await admission.app('app-1:signature', 60, 'demo', 1);
      assert.equal(app.kind, 'admitted');
      assert.deepEqual(app.kind === 'admitted' && app.user, { containerId: 'demo' });
    } finally {
      await moduleRef.close();
    }
  });
});
