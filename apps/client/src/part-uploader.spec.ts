import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { splitIntoParts } from './file-plan.js';
import type { PartRequest, PartUrl } from './koodrive-api.js';
import { PartUploader, PartUploadError, TaskGoneError } from './part-uploader.js';

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

class FakeUrls {
  readonly asked: number[][] = [];
  private generation = 0;

  constructor(private readonly store: FakeStore) {}

  uploadUrl(_fileId: string, multiParts: readonly PartRequest[]): Promise<PartUrl[]> {
    this.asked.push(multiParts.map((part) => part.partNumber));
    this.generation++;
    return Promise.resolve(
      multiParts.map((part) => ({
        partNumber: part.partNumber,
        uploadUrl: `${this.store.baseUrl}/${part.partNumber}/${this.generation}`,
        expiresAt: Date.now() + 3_600_000,
      })),
    );
  }
}

describe(PartUploader.name, () => {
  let dir: string;
  let path: string;
  let data: Buffer;
  let store: FakeStore;
  const partSize = 64 * 1024;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koodrive-parts-'));
    path = join(dir, 'data.bin');
    data = randomBytes(partSize * 7 + 123);
    await writeFile(path, data);
    store = new FakeStore();
    await store.start();
  });
  after(async () => {
    store.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  function jobs(): PartRequest[] {
    return splitIntoParts(data.length, partSize).map((plan) => ({ ...plan, hashCtx: [1, 2, 3, 4, 5, 6, 7, 8] }));
  }

  // URLs as create hands them out, for the given parts
  function createUrls(partNumbers: readonly number[], expiresAt = Date.now() + 3_600_000): PartUrl[] {
    return partNumbers.map((partNumber) => ({ partNumber, uploadUrl: `${store.baseUrl}/${partNumber}/0`, expiresAt }));
  }

  it('PUTs each part range at most `parallel` at a time, retrying 5xx and refreshing refused URLs', async () => {
    store.received.clear();
    store.maxInFlight = 0;
    store.script.set(2, [500, 503]);
    store.script.set(5, [403]);
    const urls = new FakeUrls(store);
    let bytes = 0;
    const done: number[] = [];
    await new PartUploader({
      api: urls,
      fileId: 'FiX',
      filePath: path,
      parallel: 3,
      retry: FAST_RETRY,
      onBytes: (delta) => (bytes += delta),
      onPartDone: (partNumber) => done.push(partNumber),
    }).run(jobs());
    assert.equal(store.received.size, 8);
    for (const job of jobs()) {
      assert.ok(
        store.received.get(job.partNumber)!.equals(data.subarray(job.partOffset, job.partOffset + job.partSize)),
        `part ${job.partNumber}`,
      );
    }
    assert.ok(store.maxInFlight <= 3, `at most 3 at once, saw ${store.maxInFlight}`);
    assert.equal(bytes, data.length);
    assert.deepEqual(
      done.sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    // one batch for all parts, then a fresh URL for part 5 alone
    assert.deepEqual(
      urls.asked[0]!.sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.deepEqual(urls.asked.slice(1), [[5]]);
  });

  it('uses the URLs create handed out, asking uploadUrl only for the parts without a fresh one', async () => {
    store.received.clear();
    const all = new FakeUrls(store);
    await new PartUploader({
      api: all,
      fileId: 'FiX',
      filePath: path,
      parallel: 3,
      urls: createUrls([1, 2, 3, 4, 5, 6, 7, 8]),
    }).run(jobs());
    assert.equal(store.received.size, 8);
    assert.deepEqual(all.asked, []);

    // parts 1-3 came with create, 4 with one about to expire: one batch for 4-8
    const some = new FakeUrls(store);
    await new PartUploader({
      api: some,
      fileId: 'FiX',
      filePath: path,
      parallel: 1,
      urls: [...createUrls([1, 2, 3]), ...createUrls([4], Date.now() + 1000)],
    }).run(jobs());
    assert.deepEqual(some.asked, [[4, 5, 6, 7, 8]]);
  });

  it('gives up on a part after its attempts, stopping the others', async () => {
    store.script.set(3, [500, 500, 500]);
    const error = await new PartUploader({
      api: new FakeUrls(store),
      fileId: 'FiX',
      filePath: path,
      parallel: 2,
      retry: FAST_RETRY,
    })
      .run(jobs())
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof PartUploadError);
    assert.equal(error.partNumber, 3);
  });

  it('fails at once on a 4xx, and reports a task gone on 404', async () => {
    store.script.set(1, [400]);
    const refused = await new PartUploader({ api: new FakeUrls(store), fileId: 'FiX', filePath: path, parallel: 1 })
      .run(jobs())
      .catch((caught: unknown) => caught);
    assert.ok(refused instanceof PartUploadError);
    assert.equal(refused.status, 400);
    store.script.set(1, [404]);
    const gone = await new PartUploader({ api: new FakeUrls(store), fileId: 'FiX', filePath: path, parallel: 1 })
      .run(jobs())
      .catch((caught: unknown) => caught);
    assert.ok(gone instanceof TaskGoneError);
  });

  it('stops with an AbortError when its signal is aborted', async () => {
    const stop = new AbortController();
    const uploading = new PartUploader({
      api: new FakeUrls(store),
      fileId: 'FiX',
      filePath: path,
      parallel: 1,
      signal: stop.signal,
      partDelayMs: 50,
      onPartDone: () => stop.abort(),
    }).run(jobs());
    await assert.rejects(uploading, { name: 'AbortError' });
  });
});
