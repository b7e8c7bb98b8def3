// Tracing for specs that assert spans: the real SDK setup with an in-memory exporter. Import it
// before anything instrumented is loaded, and load the app dynamically afterwards.
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { startTracing } from '@koodrive/telemetry';

// the SDK reads OTEL_SDK_DISABLED itself, and the global setup's environment says true
process.env.OTEL_SDK_DISABLED = 'false';

export const spanExporter = new InMemorySpanExporter();

export const tracing = startTracing({
  serviceName: 'koodrive-upload-test',
  disabled: false,
  otlpEndpoint: undefined,
  spanProcessors: [new SimpleSpanProcessor({ exporter: spanExporter })],
});
