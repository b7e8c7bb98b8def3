// npm run otlp:sink -- [--port 4318]: a tiny OTLP/HTTP trace receiver for looking at what the
// service exports, without a tracing backend. Decodes the protobuf requests (POST /v1/traces)
// and prints each trace as a tree: span name, duration, and its attributes.
// Point the service at it: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

export interface ExportedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly scope: string;
  readonly durationMs: number;
  readonly attributes: Record<string, string | number | boolean>;
  readonly status: number;
}

type Field = { number: number; wire: number; value: bigint | Buffer };

// protobuf wire format: (field number, wire type) tags, varints, fixed64/32 and length-delimited bytes
function fields(buffer: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buffer[at++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        return result;
      }
      shift += 7n;
    }
  };
  while (at < buffer.length) {
    const tag = Number(varint());
    const number = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) {
      out.push({ number, wire, value: varint() });
    } else if (wire === 1) {
      out.push({ number, wire, value: buffer.readBigUInt64LE(at) });
      at += 8;
    } else if (wire === 2) {
      const length = Number(varint());
      out.push({ number, wire, value: buffer.subarray(at, at + length) });
      at += length;
    } else if (wire === 5) {
      out.push({ number, wire, value: BigInt(buffer.readUInt32LE(at)) });
      at += 4;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
  return out;
}

const bytesOf = (list: Field[], n: number): Buffer[] =>
  list.filter((f) => f.number === n && f.value instanceof Buffer).map((f) => f.value as Buffer);
const numberOf = (list: Field[], n: number): bigint | undefined =>
  list.find((f) => f.number === n && typeof f.value === 'bigint')?.value as bigint | undefined;

function anyValue(buffer: Buffer): string | number | boolean {
  const [field] = fields(buffer);
  if (field === undefined) {
    return '';
  }
  switch (field.number) {
    case 1:
      return (field.value as Buffer).toString('utf8');
    case 2:
      return field.value !== 0n;
    case 3:
      return Number(BigInt.asIntN(64, field.value as bigint));
    case 4: {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(field.value as bigint);
      return b.readDoubleLE(0);
    }
    default:
      return '[complex]';
  }
}

// ExportTraceServiceRequest → spans
export function decodeTraces(body: Buffer): ExportedSpan[] {
  const spans: ExportedSpan[] = [];
  for (const resourceSpans of bytesOf(fields(body), 1)) {
    for (const scopeSpans of bytesOf(fields(resourceSpans), 2)) {
      const scopeFields = fields(scopeSpans);
      const scope = bytesOf(fields(bytesOf(scopeFields, 1)[0] ?? Buffer.alloc(0)), 1)[0]?.toString() ?? '';
      for (const spanBytes of bytesOf(scopeFields, 2)) {
        const span = fields(spanBytes);
        const attributes: Record<string, string | number | boolean> = {};
        for (const kv of bytesOf(span, 9)) {
          const kvFields = fields(kv);
          attributes[bytesOf(kvFields, 1)[0]?.toString() ?? ''] = anyValue(bytesOf(kvFields, 2)[0] ?? Buffer.alloc(0));
        }
        const status = fields(bytesOf(span, 15)[0] ?? Buffer.alloc(0));
        spans.push({
          traceId: bytesOf(span, 1)[0]?.toString('hex') ?? '',
          spanId: bytesOf(span, 2)[0]?.toString('hex') ?? '',
          parentSpanId: bytesOf(span, 4)[0]?.toString('hex') ?? '',
          name: bytesOf(span, 5)[0]?.toString() ?? '',
          scope,
          durationMs: Number(((numberOf(span, 8) ?? 0n) - (numberOf(span, 7) ?? 0n)) / 1000n) / 1000,
          attributes,
          status: Number(numberOf(status, 3) ?? 0n),
        });
      }
    }
  }
  return spans;
}

// One trace as an indented tree, children in start order as received.
export function formatTree(spans: readonly ExportedSpan[]): string {
  const ids = new Set(spans.map((s) => s.spanId));
  const lines: string[] = [];
  const walk = (span: ExportedSpan, depth: number): void => {
    const attributes = Object.entries(span.attributes)
      .filter(([key]) =>
        /^(koodrive\.|http\.(request\.method|route|response\.status_code)|db\.(operation|system)|rpc\.method|aws\.s3)/.test(
          key,
        ),
      )
      .map(([key, value]) => `${key}=${String(value)}`)
      .join(' ');
    lines.push(
      `${'  '.repeat(depth)}${span.name} (${span.durationMs.toFixed(1)} ms${span.status === 2 ? ', ERROR' : ''}) ${attributes}`.trimEnd(),
    );
    for (const child of spans.filter((s) => s.parentSpanId === span.spanId)) {
      walk(child, depth + 1);
    }
  };
  for (const root of spans.filter((s) => !ids.has(s.parentSpanId))) {
    walk(root, 0);
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const { port } = parseArgs({ options: { port: { type: 'string', default: '4318' } } }).values;
  const byTrace = new Map<string, ExportedSpan[]>();
  createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url === '/v1/traces') {
        for (const span of decodeTraces(Buffer.concat(chunks))) {
          byTrace.set(span.traceId, [...(byTrace.get(span.traceId) ?? []), span]);
        }
        for (const [traceId, spans] of byTrace) {
          if (spans.some((s) => s.name === 'koodrive.complete')) {
            console.log(`trace ${traceId}\n${formatTree(spans)}\n`);
            byTrace.delete(traceId);
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  }).listen(Number(port), '127.0.0.1', () => console.error(`otlp-sink: listening on http://127.0.0.1:${port}`));
}
