// PartUploadService on the embedded parts (PGlite, the local-disk store), each PUT a real HTTP
// request whose body the service streams as the controller hands it on (the raw IncomingMessage):
// the put lease, the body's size, the per-user cap, and what a PUT records.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { NewUploadFile } from '@koodrive/database';
import { ApiCode } from '@koodrive/errors';
import { encodeHashCtx, SHA256_INITIAL_STATE } from '@koodrive/hashing';
import {
  bytesOf,
  claimed,
  type EmbeddedParts,
  openUpload,
  PART_URL_SECRET,
  rejectsWithCode,
  sha256Hex,
  testConfig,
  useEmbeddedParts,
} from '../../../../test/support/embedded-parts.js';
import { partUploadUrl } from './part-url.js';
import { PartUploadService, type PartUploadTarget, type StoredPartAnswer } from './part-upload.service.js';

// A PUT on its way: its outcome as the service answers it; the rest of the body sent, or the
// connection cut, when the test says so.
interface PendingPut {
  readonly outcome: Promise<StoredPartAnswer>;
  finish(): void;
  cut(): void;
}

interface PutOptions {
  // bytes of the body sent at once (all by default); the rest waits for finish()
  readonly send?: number;
  // the part URL's expiry, unix seconds
  readonly expires?: number;
  readonly signature?: string;
}

// A server that hands each PUT's raw request to the service the PUT names.
class PartServer {
  private readonly server: Server;
  private readonly waiting = new Map<
    string,
    { service: PartUploadService; target: PartUploadTarget; settle: (outcome: Promise<StoredPartAnswer>) => void }
  >();

  constructor() {
    this.server = createServer((req, res) => {
      const id = String(req.headers['x-put-id']);
      const put = this.waiting.get(id);
      this.waiting.delete(id);
      const outcome = put!.service.put({ ...put!.target, contentLength: req.headers['content-length'] }, req);
      put!.settle(outcome);
      outcome.then(
        () => res.end('{"code":0}'),
        () => res.writeHead(400).end(),
      );
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  put(service: PartUploadService, file: NewUploadFile, partNumber: number, body: Buffer, options: PutOptions = {}) {
    const { port } = this.server.address() as AddressInfo;
    const expires = options.expires ?? Math.floor(Date.now() / 1000) + 600;
    const url = new URL(partUploadUrl('http://unit', PART_URL_SECRET, { fileId: file.id, partNumber, expires }));
    const target = {
      fileId: file.id,
      partNumber,
      expires: url.searchParams.get('expires') ?? undefined,
      signature: options.signature ?? url.searchParams.get('signature') ?? undefined,
      contentLength: undefined,
    };
    const id = randomUUID();
    // settled with the service's own promise, once the server hands it the request
    const outcome = new Promise<StoredPartAnswer>((settle) => this.waiting.set(id, { service, target, settle }));
    // the service's answer is what counts here; the client's side of a refused or cut PUT is not
    outcome.catch(() => undefined);
    const client = request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: `${url.pathname}${url.search}`,
      agent: false,
      headers: { 'content-length': body.length, 'x-put-id': id },
    });
    client.on('error', () => undefined);
    client.on('response', (response: IncomingMessage) => response.resume());
    const send = options.send ?? body.length;
    client.write(body.subarray(0, send));
    if (send === body.length) {
      client.end();
    }
    return {
      outcome,
      finish: () => client.end(body.subarray(send)),
      cut: () => client.destroy(),
    } satisfies PendingPut;
  }
}

describe(PartUploadService.name, () => {
  const parts = useEmbeddedParts();
  const server = new PartServer();
  before(() => server.listen());
  after(() => server.close());

  const serviceOf = (p: EmbeddedParts = parts()) => new PartUploadService(p.puts, p.storage, p.config);
  const planOf = async (fileId: string, partNumber = 1) =>
    (await parts().tasks.listPartPlans(fileId)).find((plan) => plan.partNumber === partNumber)!;

  // An open task of one 42-byte part, planned with a URL through the service.
  async function task(overrides: Partial<NewUploadFile> = {}): Promise<NewUploadFile> {
    const { file } = await openUpload(parts(), { length: 42, ...overrides }, [
      { partNumber: 1, partSize: 42, partOffset: 0, hashCtx: null },
    ]);
    return file;
  }

  it('streams the part into storage and records what it hashed under its put lease', async () => {
    const file = await task();
    const bytes = bytesOf(42);

    const answer = await server.put(serviceOf(), file, 1, bytes).outcome;

    const [stored] = await parts().disk.listParts(file.storageKey, file.uploadId!);
    assert.deepEqual(answer, { partNumber: 1, etag: stored?.etag, size: 42 });
    const plan = await planOf(file.id);
    assert.equal(plan.viaServiceOnly, true);
    assert.deepEqual(plan.uploaded, {
      etag: answer.etag,
      size: 42,
      hashedFrom: encodeHashCtx({ h: SHA256_INITIAL_STATE, offset: 0 }),
      // 42 bytes end off a 64-byte block: no state to hand on, but the part ends the file
      hashedTo: null,
      sha256: sha256Hex(bytes),
    });
  });

  it('refuses a second PUT of the part while one holds its lease (13000403), and takes the next', async () => {
    const file = await task();
    const service = serviceOf();
    const streaming = parts().storage.nextStart('uploadPart');
    const first = server.put(service, file, 1, bytesOf(42, 1), { send: 20 });
    await streaming;

    await rejectsWithCode(server.put(service, file, 1, bytesOf(42, 2)).outcome, ApiCode.StatusChangeFailed);

    first.finish();
    assert.equal((await first.outcome).size, 42);
    const third = await server.put(service, file, 1, bytesOf(42, 3)).outcome;
    const plan = await planOf(file.id);
    assert.equal(plan.uploaded?.etag, third.etag);
    assert.equal(plan.uploaded?.sha256, sha256Hex(bytesOf(42, 3)));
  });

  it("refuses a Content-Length other than the part's planned size with 13000102, taking no lease", async () => {
    const file = await task();

    await rejectsWithCode(server.put(serviceOf(), file, 1, bytesOf(10)).outcome, ApiCode.InvalidParameter);

    assert.equal((await planOf(file.id)).uploaded, null);
    assert.equal((await server.put(serviceOf(), file, 1, bytesOf(42)).outcome).size, 42);
  });

  it('answers 13000101 to a body that ends early, releasing the lease and marking the part to read back', async () => {
    const file = await task();
    const streaming = parts().storage.nextStart('uploadPart');
    const cut = server.put(serviceOf(), file, 1, bytesOf(42), { send: 20 });
    await streaming;

    cut.cut();
    await rejectsWithCode(cut.outcome, ApiCode.RequestError);

    const plan = await planOf(file.id);
    assert.equal(plan.uploaded, null);
    // its bytes had begun to flow to storage, which might still take them
    assert.equal(plan.viaServiceOnly, false);
    assert.deepEqual(await parts().disk.listParts(file.storageKey, file.uploadId!), []);
    // the lease is free at once: the client's retry goes through
    const retried = await server.put(serviceOf(), file, 1, bytesOf(42)).outcome;
    assert.equal((await planOf(file.id)).uploaded?.etag, retried.etag);
  });

  it("refuses a PUT past the owner's cap of PUTs in flight with 13000903, which the next PUT may use", async () => {
    const capped = new PartUploadService(parts().puts, parts().storage, testConfig({ PART_PUTS_PER_USER: '1' }));
    const owner = `u-${randomUUID()}`;
    const [a, b] = [await task({ ownerId: owner }), await task({ ownerId: owner })];
    const streaming = parts().storage.nextStart('uploadPart');
    const first = server.put(capped, a, 1, bytesOf(42), { send: 20 });
    await streaming;

    const refused = await rejectsWithCode(server.put(capped, b, 1, bytesOf(42)).outcome, ApiCode.TooManyRequests);

    assert.equal(refused.retryAfterSeconds, 1);
    // nothing of it reached storage: the part keeps its standing and its lease is free
    assert.equal((await planOf(b.id)).viaServiceOnly, true);
    // another owner is not held back
    assert.equal((await server.put(capped, await task(), 1, bytesOf(42)).outcome).size, 42);
    first.finish();
    await first.outcome;
    assert.equal((await server.put(capped, b, 1, bytesOf(42)).outcome).size, 42);
  });

  it('forgets what a PUT hashed when the file moved on while it streamed (13000403)', async () => {
    const file = await task();
    const streaming = parts().storage.nextStart('uploadPart');
    const put = server.put(serviceOf(), file, 1, bytesOf(42), { send: 20 });
    await streaming;
    // the client calls complete before this PUT is done
    await claimed(parts(), file);

    put.finish();
    await rejectsWithCode(put.outcome, ApiCode.StatusChangeFailed);

    const plan = await planOf(file.id);
    assert.equal(plan.uploaded, null);
    // storage may hold its bytes now: the completion must read the part back
    assert.equal(plan.viaServiceOnly, false);
  });

  it('refuses a URL that is forged or has expired (13000410), and a part never planned (13000401)', async () => {
    const file = await task();
    const service = serviceOf();

    await rejectsWithCode(
      server.put(service, file, 1, bytesOf(42), { signature: 'f'.repeat(64) }).outcome,
      ApiCode.NoPermission,
    );
    await rejectsWithCode(
      server.put(service, file, 1, bytesOf(42), { expires: Math.floor(Date.now() / 1000) - 1 }).outcome,
      ApiCode.NoPermission,
    );
    // a part never planned
    await rejectsWithCode(server.put(service, file, 2, bytesOf(42)).outcome, ApiCode.TaskNotFound);
  });
});
