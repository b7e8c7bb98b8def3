import { ApiExcludeController } from '@nestjs/swagger';
import { Controller, Get, Logger, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { MaintenanceRepository } from '@koodrive/database';
import { metricsRegistry, uploadsByStatus } from '@koodrive/metrics';

// Prometheus scrape endpoint (OpenMetrics text). The uploads-in-progress gauge is read from the
// database at scrape time; if the database does not answer, the rest is still served.
@ApiExcludeController()
@Controller()
export class MetricsController {
  private readonly logger = new Logger(MetricsController.name);

  constructor(private readonly maintenance: MaintenanceRepository) {}

  @Get('metrics')
  async metrics(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    try {
      const counts = await this.maintenance.countOpenByStatus();
      uploadsByStatus.set({ status: 'uploading' }, counts.UPLOADING);
      uploadsByStatus.set({ status: 'completing' }, counts.COMPLETING);
    } catch (error) {
      this.logger.warn({ msg: 'could not count uploads for /metrics', err: error });
    }
    void reply.header('content-type', metricsRegistry.contentType).header('cache-control', 'no-store');
    return metricsRegistry.metrics();
  }
}
