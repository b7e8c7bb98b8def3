import { PrismaPg } from '@prisma/adapter-pg';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
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
    });
  }

  // after the HTTP server and the background jobs have stopped (they run in onModuleDestroy)
  async onApplicationShutdown(): Promise<void> {
    await this.$disconnect();
  }
}
