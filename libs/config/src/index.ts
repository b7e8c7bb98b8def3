// No Nest imports here: the app's tracing.ts loads this before anything else.
export { APP_CONFIG, type AppConfig, ConfigError, loadAppConfig, loadConfig } from './app-config.js';
