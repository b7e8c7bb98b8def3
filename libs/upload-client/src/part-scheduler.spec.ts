import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { isTaskGone } from './api-error.js';
import { fetchTransport } from './fetch-transport.js';
import { splitIntoParts } from './part-plan.js';
import { PartScheduler, type PartSchedulerOptions, PartUploadError } from './part-scheduler.js';
import type { PartRequest, PartUrl } from './wire.js';

const FAST_RETRY = { attempts: 3, baseMs: 1, maxMs: 5 };

// A store that takes PUTs at /<partNumber>/<url generation>, answering with whatever the test
// scripted for that part's next request.
class FakeStore {
  readonly received = new Map<number, Buffer>();
  readonly script = new Map<number, number[]>();
  inFlight = 0;
  maxInFlight = 0;
  server!: Server;
  baseUrl = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const partNumber = Number(request.url!.split('/')[1]);
    const chunks: Buffer[] = [];
    for await (const chunk of request) {
      chunks.push(chunk as Buffer);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
    const body = Buffer.concat(chunks);
    const status = this.script.get(partNumber)?.shift() ?? 200;
    if (status === 200) {
      assert.equal(request.headers['content-length'], String(body.length));
      this.received.set(partNumber, body);
    }
    this.inFlight--;
    response.statusCode = status;
    response.end(status === 200 ? '' : `<Error>${status}</Error>`);
  }
}

// uploadUrl as the scheduler asks it: the batches it asked for, in order.
class FakeUrls {
  readonly asked: number[][] = [];
  private generation = 0;

  constructor(
    private readonly store: FakeStore,
    // how long the URLs it hands out last
    private readonly lifetimeMs = 3_600_000,
  ) {}

  readonly source = (multiParts: readonly PartRequest[]): Promise<PartUrl[]> => {
    this.asked.push(multiParts.map((part) => part.partNumber));
    this.generation++;
    return Promise.resolve(
      multiParts.map((part) => ({
        partNumber: part.partNumber,
        uploadUrl: `${this.store.baseUrl}/${part.partNumber}/${this.generation}`,
        expiresAt: Date.now() + this.lifetimeMs,
      })),
    );
  };
}

describe(PartScheduler.name, () => {
  let data: Buffer;
  let store: FakeStore;
  const partSize = 64 * 1024;

  before(async () => {
    data = randomBytes(partSize * 7 + 123);
    store = new FakeStore();
    await store.start();
  });
  after(() => {
    store.server.close();
  });
  beforeEach(() => {
    store.received.clear();
    store.script.clear();
    store.maxInFlight = 0;
  });

  function parts(): PartRequest[] {
    return splitIntoParts(data.length, partSize).map((plan) => ({ ...plan, hashCtx: [1, 2, 3, 4, 5, 6, 7, 8] }));
  }

  function scheduler(
    urls: FakeUrls,
    options: Partial<PartSchedulerOptions<Uint8Array>> = {},
  ): PartScheduler<Uint8Array> {
    return new PartScheduler({
      urls: urls.source,
      transport: fetchTransport,
      bytesOf: (part) => data.subarray(part.partOffset, part.partOffset + part.partSize),
      parallel: 3,
      retry: FAST_RETRY,
      ...options,
    });
  }

  // URLs as create hands them out, for the given parts
  function createUrls(partNumbers: readonly number[], expiresAt = Date.now() + 3_600_000): PartUrl[] {
    return partNumbers.map((partNumber) => ({ partNumber, uploadUrl: `${store.baseUrl}/${partNumber}/0`, expiresAt }));
  }

  function assertAllReceived(): void {
    assert.equal(store.received.size, 8);
    for (const part of parts()) {
      const expected = data.subarray(part.partOffset, part.partOffset + part.partSize);
      assert.ok(store.received.get(part.partNumber)!.equals(expected), `part ${part.partNumber}`);
    }
  }

  it('PUTs each part at most `parallel` at a time, retrying 5xx and refreshing refused URLs', async () => {
    store.script.set(2, [500, 503]);
    store.script.set(5, [403]);
    const urls = new FakeUrls(store);
    let bytes = 0;
    const done: number[] = [];
    await scheduler(urls, {
      onBytes: (delta) => (bytes += delta),
      onPartDone: (partNumber) => void done.push(partNumber),
    }).sendAll(parts());
    assertAllReceived();
    assert.ok(store.maxInFlight <= 3, `at most 3 at once, saw ${store.maxInFlight}`);
    assert.equal(bytes, data.length);
    assert.deepEqual(
      done.sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    // one batch for all parts, then a fresh URL for part 5 alone
    assert.deepEqual(urls.asked, [[1, 2, 3, 4, 5, 6, 7, 8], [5]]);
  });

  it('uses the URLs create handed out, asking uploadUrl only for the parts without a fresh one', async () => {
    const all = new FakeUrls(store);
    await scheduler(all, { known: createUrls([1, 2, 3, 4, 5, 6, 7, 8]) }).sendAll(parts());
    assertAllReceived();
    assert.deepEqual(all.asked, []);

    // parts 1-3 came with create, 4 with one about to expire: one batch for 4-8
    const some = new FakeUrls(store);
    await scheduler(some, {
      parallel: 1,
      known: [...createUrls([1, 2, 3]), ...createUrls([4], Date.now() + 1000)],
    }).sendAll(parts());
    assert.deepEqual(some.asked, [[4, 5, 6, 7, 8]]);
  });

  it('sends parts as they are offered, each batch of URLs holding the parts waiting then', async () => {
    const urls = new FakeUrls(store);
    let firstDone: () => void = () => undefined;
    const first = new Promise<void>((resolve) => (firstDone = resolve));
    const sending = scheduler(urls, {
      parallel: 2,
      onPartDone: (partNumber) => {
        if (partNumber === 1) {
          firstDone();
        }
      },
    });
    const running = sending.run();
    const [one, ...rest] = parts();
    sending.offer(one!);
    // nothing more yet: the first part goes alone
    await first;
    assert.deepEqual([...store.received.keys()], [1]);
    for (const part of rest) {
      sending.offer(part);
    }
    sending.close();
    await running;
    assertAllReceived();
    assert.deepEqual(urls.asked[0], [1]);
    assert.deepEqual(urls.asked.slice(1).flat().sort(), [2, 3, 4, 5, 6, 7, 8], 'each of the others asked for once');
    assert.ok(urls.asked.length <= 3, `the waiting parts asked for together: ${JSON.stringify(urls.asked)}`);
  });

  // With a file read once, a part is offered while the PUTs before it run: its URL is asked for
  // then, not once a PUT has ended and a worker is free for it (a round trip before every part).
  it('asks for the URL of the next part in line while the PUT before it runs', async () => {
    const urls = new FakeUrls(store);
    let askedWhenFirstDone: number[][] = [];
    const sending = scheduler(urls, {
      parallel: 1,
      onPartDone: (partNumber) => {
        if (partNumber === 1) {
          askedWhenFirstDone = urls.asked.map((batch) => [...batch]);
        }
      },
    });
    const running = sending.run();
    const [one, two, ...rest] = parts();
    sending.offer(one!);
    while (store.inFlight === 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    sending.offer(two!);
    for (const part of rest) {
      sending.offer(part);
    }
    sending.close();
    await running;
    assertAllReceived();
    // part 1's PUT was still running (the store holds each for 5 ms) when part 2, next in line, was
    // asked for; the others, offered while that batch was on its way, as part 2's PUT began
    assert.deepEqual(askedWhenFirstDone, [[1], [2]]);
    assert.deepEqual(urls.asked, [[1], [2], [3, 4, 5, 6, 7, 8]]);
  });

  // URLs that are not fresh as they come (a PART_URL_TTL_SECONDS at or under the client's margin, or
  // a client clock ahead): asked ahead once, then by each worker as it takes a part, never in a loop
  // (asking ahead again for a part whose URL came back stale never ended), and every part gets the
  // URL its batch brought.
  it('asks for URLs that come back already close to expiry a bounded number of times', async () => {
    const urls = new FakeUrls(store, 60_000);
    await scheduler(urls).sendAll(parts());
    assertAllReceived();
    // one batch ahead, then at most one per part
    assert.ok(urls.asked.length <= parts().length + 1, JSON.stringify(urls.asked));
    assert.deepEqual(urls.asked[0], [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('stops with the error of what feeds it', async () => {
    const sending = scheduler(new FakeUrls(store));
    const running = sending.run();
    sending.offer(parts()[0]!);
    sending.fail(new Error('the file could not be read'));
    await assert.rejects(running, /could not be read/);
  });

  it('gives up on a part after its attempts, stopping the others', async () => {
    store.script.set(3, [500, 500, 500]);
    const error = await scheduler(new FakeUrls(store), { parallel: 2 })
      .sendAll(parts())
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof PartUploadError);
    assert.equal(error.partNumber, 3);
  });

  it('fails at once on a 4xx, and reports a task gone on 404', async () => {
    store.script.set(1, [400]);
    const refused = await scheduler(new FakeUrls(store), { parallel: 1 })
      .sendAll(parts())
      .catch((caught: unknown) => caught);
    assert.ok(refused instanceof PartUploadError);
    assert.equal(refused.status, 400);
    store.script.set(1, [404]);
    const gone = await scheduler(new FakeUrls(store), { parallel: 1 })
      .sendAll(parts())
      .catch((caught: unknown) => caught);
    assert.ok(isTaskGone(gone), String(gone));
  });

  it('stops with an AbortError when its signal is aborted', async () => {
    const stop = new AbortController();
    const uploading = scheduler(new FakeUrls(store), {
      parallel: 1,
      signal: stop.signal,
      onPartDone: () => stop.abort(),
    }).sendAll(parts());
    await assert.rejects(uploading, { name: 'AbortError' });
    assert.equal(store.received.size, 1);
  });
});
