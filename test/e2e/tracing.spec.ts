import '../support/in-memory-tracing.ts';
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { spanExporter, tracing } from '../support/in-memory-tracing.ts';
import { parentSpanIdFromXTraceid, traceIdFromXTraceid } from '@koodrive/telemetry';

const harness = await import('../support/harness.ts');

async function spansOfTrace(traceId: string): Promise<ReadableSpan[]> {
  for (let i = 0; i < 50; i++) {
    const spans = spanExporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    if (spans.some((s) => s.kind === SpanKind.SERVER)) {
      return spans;
    }
    await sleep(50);
  }
  throw new Error(
    `no server span in trace ${traceId}; have ${spanExporter
      .getFinishedSpans()
      .map((s) => `${s.name}@${s.spanContext().traceId}`)
      .join(', ')}`,
  );
}

function ancestors(span: ReadableSpan, byId: Map<string, ReadableSpan>): ReadableSpan[] {
  const chain: ReadableSpan[] = [];
  for (
    let parent = byId.get(span.parentSpanContext?.spanId ?? '');
    parent;
    parent = byId.get(parent.parentSpanContext?.spanId ?? '')
  ) {
    chain.push(parent);
  }
  return chain;
}

describe('X-Traceid and the span tree', () => {
  const app = harness.useTestApp();

  after(() => tracing.shutdown());

  it('joins the trace derived from X-Traceid and hangs pg, ioredis and S3 spans under the server span named by its route', async () => {
    const user = await harness.newUser();
    const data = harness.testBytes(5 * 1024 * 1024 + 1, 21);
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    spanExporter.reset();

    const xTraceid = 'KooDriveTrace_0123456789-abcdefghijklmnopqrstuvwxyzABCDEFGHIJ';
    const answer = await harness.call(
      app().baseUrl,
      'complete',
      { fileId },
      { token: user.token, headers: { 'x-traceid': xTraceid } },
    );
    assert.equal(answer.body.code, 0);
    assert.equal(answer.headers.get('x-traceid'), xTraceid);

    const traceId = traceIdFromXTraceid(xTraceid);
    const spans = await spansOfTrace(traceId);
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    assert.equal(server.attributes['koodrive.trace_id'], xTraceid);
    assert.equal(server.parentSpanContext?.spanId, parentSpanIdFromXTraceid(xTraceid));

    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const scopes = new Set<string>();
    for (const span of spans) {
      if (span === server) {
        continue;
      }
      assert.ok(
        ancestors(span, byId).includes(server),
        `${span.instrumentationScope.name} ${span.name} is not under the server span`,
      );
      scopes.add(span.instrumentationScope.name);
    }
    // the server span is named by its route; no span per Fastify hook nor per pool checkout
    assert.equal(server.name, 'POST /koodrive/ose/v1/files/complete');
    assert.equal(server.attributes['http.route'], '/koodrive/ose/v1/files/complete');
    assert.deepEqual(
      spans.filter((s) => s.name.startsWith('pg-pool.') || / - /.test(s.name)).map((s) => s.name),
      [],
    );
    for (const scope of ['@opentelemetry/instrumentation-pg', '@opentelemetry/instrumentation-ioredis']) {
      assert.ok(scopes.has(scope), `no span from ${scope}; got ${[...scopes].join(', ')}`);
    }
    // every S3 call has its span, made by the storage lib (no instrumentation wraps the SDK), and
    // no HTTP request under it is traced again
    const s3Calls = spans.filter((s) => s.attributes['rpc.system'] === 'aws-api');
    assert.ok(s3Calls.every((s) => s.instrumentationScope.name === 'koodrive-upload' && s.name.startsWith('S3.')));
    assert.deepEqual(
      spans.filter((s) => s.kind === SpanKind.CLIENT && s.instrumentationScope.name.endsWith('instrumentation-http')),
      [],
    );
    // no HeadObject: the part list said the combined object's size, so nobody asks storage again
    assert.deepEqual(
      new Set(s3Calls.map((s) => s.attributes['rpc.method'])),
      new Set(['ListParts', 'CompleteMultipartUpload', 'GetObject']),
    );
    // the read-back's ranged GETs go on the lean data path, each with a span of its own
    const gets = spans.filter((s) => s.name === 'S3.GetObject');
    assert.ok(gets.length > 0);
    // ... whose ranges cover the file once, end to end
    const ranges = gets
      .map((s) => /^bytes=(\d+)-(\d+)$/.exec(String(s.attributes['http.request.header.range']))!.slice(1).map(Number))
      .sort((a, b) => a[0]! - b[0]!);
    assert.equal(ranges[0]![0], 0);
    ranges.slice(1).forEach((range, i) => assert.equal(range[0], ranges[i]![1]! + 1));
    assert.equal(ranges.at(-1)![1], data.length - 1);

    // a span per phase of the completion, attributed, each S3 call under its phase
    const named = (name: string): ReadableSpan => {
      const span = spans.find((s) => s.name === name);
      assert.ok(span, `no ${name} span; got ${spans.map((s) => s.name).join(', ')}`);
      return span;
    };
    const complete = named('koodrive.complete');
    assert.equal(complete.attributes['koodrive.file_id'], fileId);
    assert.equal(complete.attributes['koodrive.bytes'], data.length);
    assert.equal(complete.attributes['koodrive.outcome'], 0);
    assert.equal(named('koodrive.list_parts').attributes['koodrive.parts'], 2);
    assert.equal(named('koodrive.combine').attributes['koodrive.parts'], 2);
    assert.equal(named('koodrive.verify').attributes['koodrive.bytes'], data.length);
    for (const [phase, operation] of [
      ['koodrive.list_parts', 'ListParts'],
      ['koodrive.combine', 'CompleteMultipartUpload'],
      ['koodrive.verify', 'GetObject'],
    ] as const) {
      const call = spans.find((s) => s.attributes['rpc.method'] === operation)!;
      assert.ok(ancestors(call, byId).includes(named(phase)), `${operation} under ${phase}`);
      assert.ok(ancestors(named(phase), byId).includes(complete), `${phase} under koodrive.complete`);
    }
  });

  it("puts no part URL's signature on any span", async () => {
    const user = await harness.newUser();
    spanExporter.reset();
    const { parts } = await harness.upload(app().baseUrl, user, harness.testBytes(5 * 1024 * 1024 + 7, 5), {
      parallel: true,
      uploadVia: 'service',
    });
    const signatures = (parts as unknown as { uploadUrl: string }[]).map((part) =>
      new URL(part.uploadUrl).searchParams.get('signature')!,
    );
    assert.ok(signatures.length > 0 && signatures.every((signature) => signature.length > 0));
    const isPartPut = (s: ReadableSpan) =>
      s.kind === SpanKind.SERVER && Object.values(s.attributes).some((v) => String(v).includes('/multipart/parts/'));
    // every part PUT's server span has ended (and with it the spans inside it)
    await harness.until('the part PUTs were traced', () =>
      Promise.resolve(spanExporter.getFinishedSpans().filter(isPartPut).length >= signatures.length ? true : undefined),
    );
    const spans = spanExporter.getFinishedSpans();
    for (const span of spans) {
      for (const [name, value] of Object.entries(span.attributes)) {
        for (const signature of signatures) {
          assert.ok(!String(value).includes(signature), `${span.name} ${name} carries a signature: ${String(value)}`);
        }
      }
    }
  });

  it('keeps a W3C traceparent over X-Traceid, and still records and echoes X-Traceid', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const answer = await harness.call(
      app().baseUrl,
      'complete',
      { fileId: 'FiNope' },
      {
        headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'x-traceid': 'edge-id-1' },
      },
    );
    assert.equal(answer.body.code, 13000901);
    assert.equal(answer.headers.get('x-traceid'), 'edge-id-1');
    const server = (await spansOfTrace(traceId)).find((s) => s.kind === SpanKind.SERVER)!;
    assert.equal(server.attributes['koodrive.trace_id'], 'edge-id-1');
  });

  it('answers without X-Traceid with a fresh one that is the trace id', async () => {
    const answer = await harness.call(app().baseUrl, 'complete', { fileId: 'FiNope' }, {});
    const echoed = answer.headers.get('x-traceid')!;
    assert.match(echoed, /^[0-9a-f]{32}$/);
    const server = (await spansOfTrace(echoed)).find((s) => s.kind === SpanKind.SERVER)!;
    assert.equal(server.attributes['koodrive.trace_id'], echoed);
  });
});
