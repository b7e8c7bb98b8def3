import { PrismaPg } from '@prisma/adapter-pg';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { dependencyDuration } from '@koodrive/metrics';
import { PrismaClient } from './generated/prisma/client.js';

@Injectable()
export class PrismaService extends PrismaClient implements OnApplicationShutdown {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    super({
      adapter: new PrismaPg({
        connectionString: config.databaseUrl,
        max: config.databasePoolSize,
        connectionTimeoutMillis: 5_000,
      }),
      log: [{ emit: 'event', level: 'query' }],
    });
    // every statement's latency, by its verb (SELECT, INSERT, UPDATE, BEGIN, ...)
    this.$on('query' as never, (event: { query: string; duration: number }) => {
      const operation = /^\s*"?(\w+)/.exec(event.query)?.[1]?.toUpperCase() ?? 'OTHER';
      dependencyDuration.observe({ dependency: 'postgres', operation, outcome: 'ok' }, event.duration / 1000);
    });
  }

  // after the HTTP server and the background jobs have stopped (they run in onModuleDestroy)
  async onApplicationShutdown(): Promise<void> {
    await this.$disconnect();
  }
}
