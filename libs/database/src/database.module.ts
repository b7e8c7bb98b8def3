import { Global, Logger, Module } from '@nestjs/common';
import { startEmbeddedPostgres } from './embedded-postgres-loader.js';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { CompletionRepository } from './completion.repository.js';
import { MaintenanceRepository } from './maintenance.repository.js';
import { PartPutRepository } from './part-put.repository.js';
import { UploadTaskRepository } from './upload-task.repository.js';
import { VersionRepository } from './version.repository.js';
import { type DatabaseConnection, DATABASE_CONNECTION, externalConnection, PrismaService } from './prisma.service.js';
import { OutboxPartitionsRepository } from './outbox-partitions.repository.js';
import { OutboxRepository } from './outbox.repository.js';

// DATABASE_URL unset: the embedded PostgreSQL (PGlite), started and migrated before the client
// connects, stopped after it disconnected. Loaded only then, so a configured server costs nothing.
async function embeddedConnection(config: AppConfig): Promise<DatabaseConnection> {
  const { prismaSources } = await import('@koodrive/migrations');
  const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, ...prismaSources() });
  const applied = embedded.appliedMigrations.length;
  new Logger('Database').log(
    `embedded PostgreSQL: PGlite, data in ${embedded.dataDir} (DATABASE_URL unset)` +
      (applied === 0 ? '' : `; applied ${applied} migration(s)`),
  );
  // PGlite serves one connection: queries queue in the pool for it
  return { url: embedded.url, poolSize: 1, idleTimeoutMillis: 0, close: () => embedded.stop() };
}

@Global()
@Module({
  providers: [
    {
      provide: DATABASE_CONNECTION,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): DatabaseConnection | Promise<DatabaseConnection> =>
        config.databaseUrl === undefined ? embeddedConnection(config) : externalConnection(config),
    },
    PrismaService,
    UploadTaskRepository,
    VersionRepository,
    PartPutRepository,
    CompletionRepository,
    MaintenanceRepository,
    OutboxRepository,
    OutboxPartitionsRepository,
  ],
  exports: [
    PrismaService,
    UploadTaskRepository,
    VersionRepository,
    PartPutRepository,
    CompletionRepository,
    MaintenanceRepository,
    OutboxRepository,
    OutboxPartitionsRepository,
  ],
})
export class DatabaseModule {}
