// The Prometheus scrape endpoint, GET /metrics (OpenMetrics text), on a listener of its own at
// METRICS_PORT: clients reach PORT through the ingress, Prometheus reaches this one, and nothing
// about the service's insides is served to the internet. The uploads-in-progress gauge is read
// from the database at scrape time; if the database does not answer, the rest is still served.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { MaintenanceRepository } from '@koodrive/database';
import { metricsRegistry, uploadsByStatus } from '@koodrive/metrics';
import { portError } from '../boot-failure.js';

export const METRICS_PATH = '/metrics';

// a scrape's request is small and quick: a client that dawdles is not Prometheus
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MetricsServer.name);
  private readonly server: Server;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly maintenance: MaintenanceRepository,
  ) {
    this.server = createServer(
      { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
      (req, res) => {
        this.answer(req, res).catch((error: unknown) => {
          this.logger.error({ msg: 'could not render /metrics', err: error });
          res.writeHead(500).end();
        });
      },
    );
  }

  // where it listens, once the application has started (METRICS_PORT=0 picks a free port)
  get url(): string {
    const address = this.server.address() as AddressInfo | null;
    if (address === null) {
      throw new Error('the metrics server is not listening');
    }
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}${METRICS_PATH}`;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { metricsPort, host } = this.config;
    await new Promise<void>((resolve, reject) => {
      const failed = (error: Error): void => reject(portError('METRICS_PORT', metricsPort, host, error));
      this.server.once('error', failed);
      this.server.listen(metricsPort, host, () => {
        this.server.off('error', failed);
        resolve();
      });
    });
  }

  // after the API's listener has closed: Prometheus still sees the pod while it drains
  async onApplicationShutdown(): Promise<void> {
    if (this.server.listening) {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '').split('?')[0];
    if (path !== METRICS_PATH) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: GET /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end();
      return;
    }
    await this.countUploads();
    const body = await metricsRegistry.metrics();
    response.writeHead(200, { 'content-type': metricsRegistry.contentType, 'cache-control': 'no-store' });
    response.end(request.method === 'HEAD' ? undefined : body);
  }

  private async countUploads(): Promise<void> {
    try {
      const counts = await this.maintenance.countOpenByStatus();
      uploadsByStatus.set({ status: 'uploading' }, counts.UPLOADING);
      uploadsByStatus.set({ status: 'completing' }, counts.COMPLETING);
    } catch (error) {
      this.logger.warn({ msg: 'could not count uploads for /metrics', err: error });
    }
  }
}
