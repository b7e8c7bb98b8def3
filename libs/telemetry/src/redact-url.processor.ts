// Takes signed URLs' signatures off every span as it starts, whichever instrumentation put the
// URL there (the HTTP instrumentation's url.query, a client's url.full):
// a signature is a credential (see redact-url.ts).
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { redactUrl } from './redact-url.js';

const URL_ATTRIBUTES = ['url.full', 'url.path', 'url.query', 'http.url', 'http.target'];

export class RedactUrlSpanProcessor implements SpanProcessor {
  onStart(span: Span, _parentContext: Context): void {
    for (const name of URL_ATTRIBUTES) {
      const value = span.attributes[name];
      if (typeof value !== 'string') {
        continue;
      }
      // url.query comes without its '?'
      const redacted = name === 'url.query' ? redactUrl(`?${value}`).slice(1) : redactUrl(value);
      if (redacted !== value) {
        span.setAttribute(name, redacted);
      }
    }
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
