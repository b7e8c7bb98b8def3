import { ApiExcludeController } from '@nestjs/swagger';
import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { PrismaService } from '@koodrive/database';
import type { Redis } from 'ioredis';
import { REDIS } from '@koodrive/redis';
import { OBJECT_STORAGE, type ObjectStorage } from '@koodrive/storage';
import { ShutdownState } from './shutdown-state.js';

type CheckResult = 'ok' | 'unavailable';

const CHECK_TIMEOUT_MS = 2_000;

// Kubernetes probes: /healthz says the process serves; /readyz that its dependencies answer
// (`redis` is always ok when REDIS_URL is unset: what it would hold lives in the process).
@ApiExcludeController()
@Controller()
export class HealthController {
  constructor(
    private readonly prisma: PrismaService,
    @Inject(REDIS) private readonly redis: Redis | null,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
    private readonly shutdown: ShutdownState,
  ) {}

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
    const [database, redis, storage] = await Promise.all([
      check(() => this.prisma.$queryRaw`SELECT 1`),
      // sessions, rate limits and events live in the process when REDIS_URL is unset
      check(async () => void (await this.redis?.ping())),
      check(() => this.storage.ping()),
    ]);
    const checks = { database, redis, storage };
    const ready = Object.values(checks).every((result) => result === 'ok');
    void reply.status(ready ? 200 : 503);
    return { status: ready ? 'ok' : 'unavailable', checks };
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
