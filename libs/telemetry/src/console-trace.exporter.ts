// With no OTLP endpoint, traces are printed to the console (stderr), one compact tree per request:
//   trace 4bf92f3577b34da6 POST /koodrive/ose/v1/files/complete 183.2ms
//     koodrive.complete 171.0ms koodrive.outcome=0 koodrive.by=request
//       koodrive.list_parts 4.1ms koodrive.parts=3
//       ...
// Spans are held until their trace's root (the HTTP server span) has ended and settled, then
// printed together; the framework's hook spans are left out, and traces that are not an HTTP
// request's (the background jobs') are dropped.
import { type Attributes, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode, hrTimeToMilliseconds } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

// spans held at most (traces that are not requests' are dropped when this is reached)
const MAX_HELD_SPANS = 10_000;
const SETTLE_MS = 300;
// the framework's hook spans (one per hook per request) and the pool's connection checkouts:
// nothing to read
const HOOK_SPAN =
  /^(onRequest|preParsing|preValidation|preHandler|preSerialization|onSend|onResponse|onError|onTimeout|onRequestAbort) - |^pg(-pool)?\.connect$/;
// attributes worth a glance; the rest stay out of the line
const SHOWN_ATTRIBUTE = /^(koodrive\.|http\.response\.status_code$|db\.operation|rpc\.method$|error)/;

export class ConsoleTraceExporter implements SpanExporter {
  private readonly held = new Map<string, ReadableSpan[]>();
  private heldCount = 0;

  constructor(private readonly write: (text: string) => void = (text) => process.stderr.write(text)) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const span of spans) {
      const traceId = span.spanContext().traceId;
      const trace = this.held.get(traceId) ?? [];
      trace.push(span);
      this.held.set(traceId, trace);
      this.heldCount += 1;
      if (span.kind === SpanKind.SERVER) {
        // a span or two of the request (the framework's own) may end just after its root
        setTimeout(() => this.print(traceId, span), SETTLE_MS).unref();
      } else if (isLocalRoot(span)) {
        // requests only: the background jobs' runs (every half second) would bury them
        this.held.delete(traceId);
        this.heldCount -= trace.length;
      }
    }
    if (this.heldCount > MAX_HELD_SPANS) {
      this.held.clear();
      this.heldCount = 0;
    }
    done({ code: ExportResultCode.SUCCESS });
  }

  private print(traceId: string, root: ReadableSpan): void {
    const trace = this.held.get(traceId);
    if (trace !== undefined) {
      this.held.delete(traceId);
      this.heldCount -= trace.length;
      this.write(renderTrace(root, trace));
    }
  }

  shutdown(): Promise<void> {
    this.held.clear();
    return Promise.resolve();
  }
}

function isLocalRoot(span: ReadableSpan): boolean {
  const parent = span.parentSpanContext;
  return parent === undefined || parent.isRemote === true;
}

export function renderTrace(root: ReadableSpan, spans: readonly ReadableSpan[]): string {
  const shown = spans.filter((span) => span !== root && !HOOK_SPAN.test(span.name));
  const ids = new Set([root, ...shown].map((span) => span.spanContext().spanId));
  const children = new Map<string, ReadableSpan[]>();
  for (const span of shown) {
    // a span whose parent is not shown hangs under the root
    const parentId = span.parentSpanContext?.spanId;
    const under = parentId !== undefined && ids.has(parentId) ? parentId : root.spanContext().spanId;
    children.set(under, [...(children.get(under) ?? []), span]);
  }
  const lines = [`trace ${root.spanContext().traceId.slice(0, 16)} ${describe(root)}`];
  const walk = (span: ReadableSpan, depth: number): void => {
    const below = (children.get(span.spanContext().spanId) ?? []).sort(
      (a, b) => hrTimeToMilliseconds(a.startTime) - hrTimeToMilliseconds(b.startTime),
    );
    for (const child of below) {
      lines.push(`${'  '.repeat(depth)}${describe(child)}`);
      walk(child, depth + 1);
    }
  };
  walk(root, 1);
  return `${lines.join('\n')}\n`;
}

function describe(span: ReadableSpan): string {
  const ms = hrTimeToMilliseconds(span.duration).toFixed(1);
  const failed = span.status.code === SpanStatusCode.ERROR ? ' ERROR' : '';
  return `${span.name} ${ms}ms${failed}${attributes(span.attributes)}`;
}

function attributes(all: Attributes): string {
  return Object.entries(all)
    .filter(([name]) => SHOWN_ATTRIBUTE.test(name))
    .map(([name, value]) => ` ${name}=${String(value)}`)
    .join('');
}
