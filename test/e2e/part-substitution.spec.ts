// "Never vouch for bytes you did not see": a part hashed by the service on its way to storage,
// then replaced there by bytes of the same MD5 (so the same ETag) and size, must not let complete
// record the digest of the bytes it hashed. The replacement comes through both doors a client has:
// a URL straight to storage asked for the part again, and the service's own part URL without
// hashCtx. test/fixtures/md5-collision holds a public pair of 128-byte blocks with one MD5. On RGW
// and on the local-disk store, each path ends in 13000402 or in the digest of what is stored.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { Sha256State } from '@koodrive/hashing';
import { closeTestRedis, newUser, sha256Hex, testBytes } from '../support/harness.ts';
import { ServiceProcess } from '../support/service-process.ts';
import { MIB } from '@koodrive/limits';

// .out/test/e2e → the repository's test/fixtures
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/md5-collision');
const EMBEDDED_UNSET = ['DATABASE_URL', 'REDIS_URL', 'S3_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SDK_DISABLED'];
const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');

interface Stack {
  readonly name: string;
  readonly presigns: boolean;
  start(): Promise<{ service: ServiceProcess; token: string }>;
  cleanUp(): Promise<void>;
}

const diskDir = await mkdtemp(path.join(tmpdir(), 'koodrive-substitution-'));
const STACKS: Stack[] = [
  {
    name: 'Ceph RGW',
    presigns: true,
    start: async () => ({
      service: await ServiceProcess.start({ LOG_LEVEL: 'info' }),
      token: (await newUser()).token,
    }),
    cleanUp: () => closeTestRedis(),
  },
  {
    name: 'the local-disk store',
    presigns: false,
    start: async () => {
      const service = await ServiceProcess.start(
        { DATA_DIR: diskDir, DEMO_TOKEN: 'substitution-demo-token-0001', LOG_LEVEL: 'info' },
        EMBEDDED_UNSET,
      );
      return { service, token: 'substitution-demo-token-0001' };
    },
    cleanUp: () => rm(diskDir, { recursive: true, force: true }),
  },
];

// The answer to a PUT's headers alone (its body never sent); the request is dropped once answered.
function answerToHeaders(url: string, contentLength: number): Promise<{ status: number; body: { code: number } }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'PUT', headers: { 'content-length': contentLength } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        resolve({
          status: response.statusCode!,
          body: JSON.parse(Buffer.concat(chunks).toString()) as { code: number },
        });
        request.destroy();
      });
    });
    request.on('error', reject);
    request.flushHeaders();
  });
}

interface PartAnswer {
  readonly partNumber: number;
  readonly uploadUrl: string;
}

for (const stack of STACKS) {
  describe(`a part replaced by bytes of the same MD5 on ${stack.name}`, () => {
    let service: ServiceProcess;
    let token: string;
    let a: Buffer;
    let b: Buffer;
    const x = testBytes(5 * MIB, 90);

    before(async () => {
      [a, b] = await Promise.all([readFile(path.join(FIXTURES, 'a.bin')), readFile(path.join(FIXTURES, 'b.bin'))]);
      ({ service, token } = await stack.start());
    });
    after(async () => {
      await service.stop();
      await stack.cleanUp();
    });

    const api = async (route: string, body: object): Promise<Record<string, unknown>> => {
      const response = await fetch(`${service.baseUrl}/koodrive/ose/v1/files/${route}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await response.json()) as Record<string, unknown>;
    };
    const put = async (url: string, bytes: Buffer): Promise<void> => {
      const response = await fetch(url, { method: 'PUT', body: bytes });
      assert.equal(response.status, 200, await response.text());
    };
    const partUrls = async (fileId: string, parts: object[], uploadVia?: string): Promise<PartAnswer[]> => {
      const answer = await api('multipart/uploadUrl', {
        fileId,
        multiParts: parts,
        ...(uploadVia ? { uploadVia } : {}),
      });
      assert.equal(answer.code, 0, JSON.stringify(answer));
      return answer.multiParts as PartAnswer[];
    };

    // X then A, both through the service with their hashCtx: the service hashed X‖A.
    async function hashedUpload(): Promise<{ fileId: string; xa: string; part2: object }> {
      const xa = sha256Hex(Buffer.concat([x, a]));
      const created = await api('create', { fileName: `sub-${randomUUID()}.bin`, length: x.length + a.length });
      const fileId = created.fileId as string;
      const part2 = {
        partNumber: 2,
        partSize: a.length,
        partOffset: x.length,
        hashCtx: Sha256State.initial().update(x).state().h,
      };
      const [url1, url2] = await partUrls(
        fileId,
        [{ partNumber: 1, partSize: x.length, partOffset: 0 }, part2],
        'service',
      );
      await put(url1!.uploadUrl, x);
      await put(url2!.uploadUrl, a);
      return { fileId, xa, part2 };
    }

    it('holds the fixture: two blocks, one MD5 (so one ETag), two SHA-256s', () => {
      assert.notDeepEqual(a, b);
      assert.equal(md5(a), md5(b));
      assert.equal(md5(a), '79054025255fb1a26e4bc422aef54eb4');
    });

    it('reads back a part PUT again through the service without hashCtx, and fails the digest of the bytes it hashed', async () => {
      const { fileId, xa } = await hashedUpload();
      // the same part asked for again without its state: the service cannot hash it, and forgets what it hashed before
      const [again] = await partUrls(fileId, [{ partNumber: 2, partSize: b.length, partOffset: x.length }], 'service');
      await put(again!.uploadUrl, b);
      const answer = await api('complete', { fileId, sha256: xa });
      assert.equal(answer.code, 13000402, JSON.stringify(answer));
      assert.equal(answer.msg, 'File integrity verification failed. sha256 of the combined file does not match');
      // nobody gets X‖A onto these bytes later
      const later = await api('create', {
        fileName: `later-${randomUUID()}.bin`,
        length: x.length + a.length,
        sha256: xa,
      });
      assert.equal(later.rapidUpload, false);
    });

    it('records the digest of what storage holds when no digest was asked for', async () => {
      const { fileId } = await hashedUpload();
      const [again] = await partUrls(fileId, [{ partNumber: 2, partSize: b.length, partOffset: x.length }], 'service');
      await put(again!.uploadUrl, b);
      const answer = await api('complete', { fileId });
      assert.equal(answer.code, 0, JSON.stringify(answer));
      assert.equal(answer.sha256, sha256Hex(Buffer.concat([x, b])));
    });

    if (stack.presigns) {
      it('reads back a part replaced straight in storage through a presigned URL', async () => {
        const { fileId, xa, part2 } = await hashedUpload();
        const [direct] = await partUrls(fileId, [part2], 's3');
        assert.match(direct!.uploadUrl, /X-Amz-Signature=/);
        await put(direct!.uploadUrl, b);
        const answer = await api('complete', { fileId, sha256: xa });
        assert.equal(answer.code, 13000402, JSON.stringify(answer));
        const later = await api('create', {
          fileName: `later-${randomUUID()}.bin`,
          length: x.length + a.length,
          sha256: xa,
        });
        assert.equal(later.rapidUpload, false);
      });

      it('keeps reading a part back once a presigned URL was handed out for it, even after a PUT through the service', async () => {
        const { fileId, xa, part2 } = await hashedUpload();
        // the URL straight to storage is handed out, and the part then PUT again through the service:
        // the presigned URL still works until it expires, so the part stays one to read back
        const [direct] = await partUrls(fileId, [part2], 's3');
        const [viaService] = await partUrls(fileId, [part2], 'service');
        await put(viaService!.uploadUrl, a);
        await put(direct!.uploadUrl, b);
        const answer = await api('complete', { fileId, sha256: xa });
        assert.equal(answer.code, 13000402, JSON.stringify(answer));
      });
    }

    it('refuses a second PUT of a part while one is in flight (13000403), and takes it once the first is done', async () => {
      const data = testBytes(5 * MIB + 10, 91);
      const created = await api('create', { fileName: `race-${randomUUID()}.bin`, length: data.length });
      const fileId = created.fileId as string;
      const [url] = await partUrls(fileId, [{ partNumber: 1, partSize: 5 * MIB, partOffset: 0 }], 'service');
      // a slow first PUT: its body trickles in
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const slowBody = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(data.subarray(0, MIB));
          await held;
          controller.enqueue(data.subarray(MIB, 5 * MIB));
          controller.close();
        },
      });
      const first = fetch(url!.uploadUrl, {
        method: 'PUT',
        body: slowBody,
        headers: { 'content-length': String(5 * MIB) },
        duplex: 'half',
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      // headers only: the PUT is refused before a byte of its body is read (sending the body would
      // race the server closing the connection after its answer: EPIPE)
      const second = await answerToHeaders(url!.uploadUrl, 5 * MIB);
      assert.equal(second.status, 400);
      assert.equal(second.body.code, 13000403);
      release();
      assert.equal((await first).status, 200);
      const third = await fetch(url!.uploadUrl, { method: 'PUT', body: data.subarray(0, 5 * MIB) });
      assert.equal(third.status, 200);
    });
  });
}
