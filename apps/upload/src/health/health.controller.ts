import { ApiExcludeController } from '@nestjs/swagger';
import { Controller, Get, Header, Inject, type OnModuleDestroy, type OnModuleInit, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { PrismaService } from '@koodrive/database';
import type { Redis } from 'ioredis';
import { REDIS } from '@koodrive/redis';
import { OBJECT_STORAGE, type ObjectStorage } from '@koodrive/storage';
import { ShutdownState } from './shutdown-state.js';

type CheckResult = 'ok' | 'unavailable';

type Checks = Readonly<Record<'database' | 'redis' | 'storage', CheckResult>>;

const CHECK_TIMEOUT_MS = 2_000;
// how often the dependencies are checked, whether or not anything asks
export const CHECK_INTERVAL_MS = 1_000;

// Kubernetes probes: /healthz says the process serves; /readyz that its dependencies answer
// (`redis` is always ok when REDIS_URL is unset: what it would hold lives in the process). The
// dependencies are checked every CHECK_INTERVAL_MS in the background, one check at a time, and
// /readyz answers the latest result (the first one waits for it): a probe costs one turn of the
// event loop, like /healthz, however busy the service is (a check's round trips each wait for a
// turn, and a turn of a 10,000-part request is tens of milliseconds), and a flood of probes costs
// the dependencies nothing.
@ApiExcludeController()
@Controller()
export class HealthController implements OnModuleInit, OnModuleDestroy {
  private latest: Promise<Checks> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly prisma: PrismaService,
    @Inject(REDIS) private readonly redis: Redis | null,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
    private readonly shutdown: ShutdownState,
  ) {}

  // The first check starts at once: a /readyz soon after the start finds it done, or waits for it
  // alone (not for a busy loop's turns as well).
  onModuleInit(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), CHECK_INTERVAL_MS).unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  @Get('healthz')
  @Header('cache-control', 'no-store')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @Header('cache-control', 'no-store')
  async readyz(
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ status: 'ok' | 'unavailable' | 'shutting down'; checks: Record<string, CheckResult> }> {
    if (this.shutdown.isDraining) {
      void reply.status(503);
      return { status: 'shutting down', checks: {} };
    }
    const checks = await (this.latest ?? this.refresh());
    const ready = Object.values(checks).every((result) => result === 'ok');
    void reply.status(ready ? 200 : 503);
    return { status: ready ? 'ok' : 'unavailable', checks };
  }

  // The next check, once the one before has ended (a check takes at most CHECK_TIMEOUT_MS); the
  // latest result stays what /readyz answers until it has.
  private async refresh(): Promise<Checks> {
    if (this.checking && this.latest !== undefined) {
      return this.latest;
    }
    this.checking = true;
    const next = (async (): Promise<Checks> => {
      const [database, redis, storage] = await Promise.all([
        check(() => this.prisma.$queryRaw`SELECT 1`),
        // sessions, rate limits and events live in the process when REDIS_URL is unset
        check(async () => void (await this.redis?.ping())),
        check(() => this.storage.ping()),
      ]);
      return { database, redis, storage };
    })().finally(() => {
      this.checking = false;
    });
    // the first check is the one /readyz waits for; later ones replace it once done
    this.latest ??= next;
    const done = await next;
    this.latest = Promise.resolve(done);
    return done;
  }
}

async function check(probe: () => Promise<unknown>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return 'ok';
  } catch {
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}
