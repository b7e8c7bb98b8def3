import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { decodeTraces, formatTree } from './otlp-sink.ts';

describe('otlp-sink', () => {
  it('decodes what the OTLP protobuf exporter sends: names, parents, attributes, status', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const tracer = provider.getTracer('test-scope');
    // explicit parent context: no context manager is registered in this test
    const root = tracer.startSpan('koodrive.complete', {
      attributes: { 'koodrive.file_id': 'FiX', 'koodrive.bytes': 42 },
    });
    const child = tracer.startSpan(
      'koodrive.verify',
      { attributes: { 'koodrive.ok': true, ratio: 0.5 } },
      trace.setSpan(ROOT_CONTEXT, root),
    );
    child.setStatus({ code: SpanStatusCode.ERROR });
    child.end();
    root.end();

    const body = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans());
    assert.ok(body);
    const spans = decodeTraces(Buffer.from(body));
    const decodedRoot = spans.find((s) => s.name === 'koodrive.complete')!;
    const decodedChild = spans.find((s) => s.name === 'koodrive.verify')!;
    assert.equal(decodedChild.parentSpanId, decodedRoot.spanId);
    assert.equal(decodedChild.traceId, decodedRoot.traceId);
    assert.equal(decodedRoot.traceId, root.spanContext().traceId);
    assert.deepEqual(decodedRoot.attributes, { 'koodrive.file_id': 'FiX', 'koodrive.bytes': 42 });
    assert.deepEqual(decodedChild.attributes, { 'koodrive.ok': true, ratio: 0.5 });
    assert.equal(decodedChild.status, 2);
    assert.equal(decodedRoot.scope, 'test-scope');
    assert.match(
      formatTree(spans),
      /^koodrive\.complete \([\d.]+ ms\) koodrive\.file_id=FiX koodrive\.bytes=42\n {2}koodrive\.verify \([\d.]+ ms, ERROR\)/,
    );
    await provider.shutdown();
  });
});
