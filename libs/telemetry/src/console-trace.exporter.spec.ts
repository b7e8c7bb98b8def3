import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { TracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { ConsoleTraceExporter } from './console-trace.exporter.js';

describe(ConsoleTraceExporter.name, () => {
  it('prints one indented tree per trace once its root ends, with the koodrive attributes', async (t) => {
    // the exporter waits SETTLE_MS (300 ms) after a root ends for late children: on a mocked clock
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const printed: string[] = [];
    const provider = new TracerProvider({
      spanProcessors: [new SimpleSpanProcessor({ exporter: new ConsoleTraceExporter((text) => printed.push(text)) })],
    });
    const tracer = provider.getTracer('test');
    const root = tracer.startSpan('POST /koodrive/ose/v1/files/complete', { kind: SpanKind.SERVER });
    const rootContext = trace.setSpan(context.active(), root);
    const complete = tracer.startSpan('koodrive.complete', { attributes: { 'koodrive.outcome': 0 } }, rootContext);
    const verify = tracer.startSpan(
      'koodrive.verify',
      { attributes: { 'koodrive.verify_method': 'hash_chain', 'http.request.header.authorization': 'secret' } },
      trace.setSpan(rootContext, complete),
    );
    verify.end();
    complete.end();
    assert.deepEqual(printed, [], 'nothing before the root ends');
    root.end();
    await provider.forceFlush();
    t.mock.timers.tick(299);
    assert.deepEqual(printed, [], 'nothing before the settle time');
    t.mock.timers.tick(1);
    assert.equal(printed.length, 1);
    const lines = (printed[0] ?? '').trimEnd().split('\n');
    assert.match(lines[0]!, /^trace [0-9a-f]{16} POST \/koodrive\/ose\/v1\/files\/complete \d+\.\dms$/);
    assert.match(lines[1]!, /^ {2}koodrive\.complete \d+\.\dms koodrive\.outcome=0$/);
    assert.match(lines[2]!, /^ {4}koodrive\.verify \d+\.\dms koodrive\.verify_method=hash_chain$/);
    assert.doesNotMatch(printed[0]!, /secret/);
    await provider.shutdown();
  });

  it("drops traces that are not a request's", async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const printed: string[] = [];
    const provider = new TracerProvider({
      spanProcessors: [new SimpleSpanProcessor({ exporter: new ConsoleTraceExporter((text) => printed.push(text)) })],
    });
    provider.getTracer('test').startSpan('koodrive.outbox-relay').end();
    await provider.forceFlush();
    t.mock.timers.tick(60_000);
    assert.deepEqual(printed, []);
    await provider.shutdown();
  });
});
