// Answers that list up to 10,000 part URLs: about 6.6 MB of JSON. JSON.stringify of such an answer
// holds the event loop for tens of milliseconds, and six of them at once keep /healthz waiting past
// a probe's bound; sent as one string, it is measured and encoded to UTF-8 once more on the way out.
// The envelope has a long list serialized a slice at a time into UTF-8, a turn of the event loop
// between slices (serializeLongLists), and the reply serializer splices the bytes in.
import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

// lists longer than this are serialized in slices of this many items
export const SLICE = 500;

// A value's JSON, as UTF-8 in pieces, spliced in where the value would be written.
export class SerializedJson {
  constructor(readonly chunks: readonly Buffer[]) {}

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

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

// A JSON list written a slice at a time: each slice's items are serialized (and may be dropped)
// as they are added, so a long list's items never all live at once.
export class JsonListWriter {
  private readonly chunks: Buffer[] = [OPEN];
  private count = 0;

  add(items: readonly unknown[]): void {
    if (items.length === 0) {
      return;
    }
    if (this.count > 0) {
      this.chunks.push(COMMA);
    }
    // `[a,b]` without its brackets
    const json = JSON.stringify(items);
    this.chunks.push(Buffer.from(json.slice(1, -1)));
    this.count += items.length;
  }

  done(): SerializedJson {
    return new SerializedJson([...this.chunks, CLOSE]);
  }
}

async function serializeInSlices(items: readonly unknown[]): Promise<SerializedJson> {
  const list = new JsonListWriter();
  for (let start = 0; start < items.length; start += SLICE) {
    if (start > 0) {
      await yieldToLoop();
    }
    list.add(items.slice(start, start + SLICE));
  }
  return list.done();
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
    out.push(...lists[i - 1]!.chunks, Buffer.from(pieces[i]!));
  }
  // the one copy of the answer's bytes
  return Buffer.concat(out);
}
