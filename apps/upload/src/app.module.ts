import { Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig, ConfigModule } from '@koodrive/config';
import { AuthModule } from '@koodrive/auth';
import { DatabaseModule } from '@koodrive/database';
import { EventsModule } from '@koodrive/events';
import { QuotaModule } from '@koodrive/quota';
import { RedisModule } from '@koodrive/redis';
import { StorageModule } from '@koodrive/storage';
import { FilesModule } from './files/files.module.js';
import { PartsModule } from './parts/parts.module.js';
import { MaintenanceModule } from './maintenance/maintenance.module.js';
import { HealthController } from './health/health.controller.js';
import { MetricsServer } from './health/metrics-server.js';
import { ShutdownState } from './health/shutdown-state.js';
import { ApiExceptionFilter } from './http/api-exception.filter.js';
import { requestLogParams } from './http/request-log.js';
import { ApiValidationPipe } from './http/validation.pipe.js';

@Module({
  imports: [
    ConfigModule,
    LoggerModule.forRootAsync({ inject: [APP_CONFIG], useFactory: (config: AppConfig) => requestLogParams(config) }),
    DatabaseModule,
    RedisModule,
    AuthModule,
    EventsModule,
    QuotaModule,
    StorageModule,
    FilesModule,
    PartsModule,
    MaintenanceModule,
  ],
  controllers: [HealthController],
  providers: [
    ShutdownState,
    // /metrics, on METRICS_PORT only
    MetricsServer,
    { provide: APP_FILTER, useClass: ApiExceptionFilter },
    { provide: APP_PIPE, useClass: ApiValidationPipe },
  ],
})
export class AppModule {}
