// The app's tracing.ts loads this before the instrumented libraries: config.module.ts brings only
// @nestjs/common (reflect-metadata, tslib, iterare, rxjs), none of which is instrumented.
export {
  APP_CONFIG,
  type AppConfig,
  ConfigError,
  isEmbedded,
  loadAppConfig,
  loadConfig,
  type RedisSentinelConfig,
  REQUIRED_IN_PRODUCTION,
} from './app-config.js';
export { ConfigModule } from './config.module.js';
