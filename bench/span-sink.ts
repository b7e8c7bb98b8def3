// An OTLP/HTTP trace receiver for the bench (tools/otlp-sink.ts decodes): a service exporting to
// it pays the full cost of exporting, and the bench counts the spans of the traces it watches
// (a request sent with a 32-hex X-Traceid joins the trace of that id), by span name.
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeTraces } from '../tools/otlp-sink.ts';
import type { Tally } from './wire-counters.ts';

export class SpanSink {
  // exports received (POST /v1/traces), and all the spans in them
  exports = 0;
  spans = 0;
  private readonly watched = new Set<string>();
  private readonly watchedByName: Tally = {};
  private server: Server | undefined;

  static async start(): Promise<SpanSink> {
    const sink = new SpanSink();
    sink.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.url === '/v1/traces') {
          sink.received(Buffer.concat(chunks));
        }
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => sink.server!.listen(0, '127.0.0.1', resolve));
    return sink;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  // Counts the spans of this trace from now on (a 32-hex trace id).
  watch(traceId: string): void {
    this.watched.add(traceId);
  }

  // The watched traces' spans by name, and forgets them.
  takeWatched(): Tally {
    const taken = { ...this.watchedByName };
    for (const name of Object.keys(this.watchedByName)) {
      delete this.watchedByName[name];
    }
    this.watched.clear();
    return taken;
  }

  // After the last span of interest ended: waits for the exporter's next export (its batch timer,
  // 5 s by default), then until exports stop for `quietMs`; at most `boundMs` in all.
  async settle(quietMs = 300, boundMs = 8000): Promise<void> {
    const deadline = Date.now() + boundMs;
    const exportsBefore = this.exports;
    while (this.exports === exportsBefore && Date.now() < deadline) {
      await sleep(20);
    }
    for (let seen = this.exports; Date.now() < deadline; seen = this.exports) {
      await sleep(quietMs);
      if (this.exports === seen) {
        return;
      }
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private received(body: Buffer): void {
    this.exports++;
    for (const span of decodeTraces(body)) {
      this.spans++;
      if (this.watched.has(span.traceId)) {
        this.watchedByName[span.name] = (this.watchedByName[span.name] ?? 0) + 1;
      }
    }
  }
}
