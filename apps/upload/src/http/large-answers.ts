// Answers that list up to 10,000 part URLs: about 6.6 MB of JSON. JSON.stringify of such an answer
// holds the event loop for tens of milliseconds, and six of them at once keep /healthz waiting past
// a probe's bound; sent as one string, it is measured and encoded to UTF-8 once more on the way out.
// The envelope has a long list serialized a slice at a time into UTF-8, a turn of the event loop
// between slices (serializeLongLists), and the reply serializer splices the bytes in.
import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

// lists longer than this are serialized in slices of this many items
export const SLICE = 500;

// A value's JSON, as UTF-8, spliced in where the value would be written.
class SerializedJson {
  constructor(readonly bytes: Buffer) {}

  // what JSON.stringify writes in its place: a token the reply serializer then replaces
  toJSON(): string {
    return TOKEN;
  }
}

// a string no answer holds otherwise (a fresh random part per process)
const TOKEN = `koodrive:serialized:${randomBytes(12).toString('hex')}`;
const QUOTED_TOKEN = JSON.stringify(TOKEN);

// `body` with each of its top-level lists longer than SLICE as JSON text made a slice at a time.
export async function serializeLongLists<T extends object>(body: T): Promise<T> {
  let out: Record<string, unknown> | undefined;
  for (const [name, value] of Object.entries(body)) {
    if (Array.isArray(value) && value.length > SLICE) {
      out ??= { ...(body as Record<string, unknown>) };
      out[name] = await serializeInSlices(value);
    }
  }
  return (out ?? body) as T;
}

const COMMA = Buffer.from(',');

async function serializeInSlices(items: readonly unknown[]): Promise<SerializedJson> {
  const chunks: Buffer[] = [];
  for (let start = 0; start < items.length; start += SLICE) {
    if (start > 0) {
      await yieldToLoop();
      chunks.push(COMMA);
    }
    // `[a,b]` without its brackets
    const json = JSON.stringify(items.slice(start, start + SLICE));
    chunks.push(Buffer.from(json.slice(1, -1)));
  }
  return new SerializedJson(Buffer.concat([Buffer.from('['), ...chunks, Buffer.from(']')]));
}

// Fastify's reply serializer: JSON.stringify, with any serialized list's bytes in its place.
export function serializeReply(payload: unknown): string | Buffer {
  const json = JSON.stringify(payload);
  if (!json.includes(QUOTED_TOKEN)) {
    return json;
  }
  const lists = Object.values(payload as object).filter((value) => value instanceof SerializedJson);
  const pieces = json.split(QUOTED_TOKEN);
  const out: Buffer[] = [Buffer.from(pieces[0]!)];
  for (let i = 1; i < pieces.length; i++) {
    out.push(lists[i - 1]!.bytes, Buffer.from(pieces[i]!));
  }
  return Buffer.concat(out);
}
