// The service's logger for Nest, with Nest's own boot chatter (each module initialized, each route
// mapped, "Nest application successfully started") moved to debug: at info the boot says only what
// a person acts on. LOG_LEVEL=debug shows it all.
import type { LoggerService } from '@nestjs/common';

const NEST_BOOT_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

export class QuietNestLogger implements LoggerService {
  constructor(private readonly logger: LoggerService) {}

  log(message: unknown, ...rest: unknown[]): void {
    const context = rest.at(-1);
    if (typeof context === 'string' && NEST_BOOT_CONTEXTS.has(context)) {
      this.logger.debug?.(message, ...rest);
    } else {
      this.logger.log(message, ...rest);
    }
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.logger.error(message, ...rest);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.logger.warn(message, ...rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.logger.debug?.(message, ...rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.logger.verbose?.(message, ...rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    (this.logger.fatal ?? this.logger.error).call(this.logger, message, ...rest);
  }
}
