// A job every replica runs on an interval: never two runs at once in one process, a random
// jitter so replicas started together spread out, each run in its own span, and a stop that
// waits for the run in progress (graceful shutdown).
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('koodrive-upload');

export class PeriodicJob {
  private readonly logger: Logger;
  private readonly controller = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    private readonly run: () => Promise<void>,
  ) {
    this.logger = new Logger(name);
  }

  start(): void {
    if (this.intervalMs <= 0 || this.loop !== undefined) {
      return;
    }
    this.loop = this.repeat();
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.loop;
  }

  // One run now, outside the schedule (tests and operators); errors propagate.
  runOnce(): Promise<void> {
    return tracer.startActiveSpan(`koodrive.${this.name}`, { root: true }, async (span) => {
      try {
        await this.run();
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    });
  }

  private async repeat(): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      const delay = this.intervalMs * (0.75 + Math.random() / 2);
      try {
        await sleep(delay, undefined, { signal });
      } catch {
        return; // stopped while waiting
      }
      await this.runOnce().catch((error: unknown) => {
        this.logger.warn({ msg: `${this.name} run failed; retrying next interval`, err: error });
      });
    }
  }
}
