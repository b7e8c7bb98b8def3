// The soak's client: one upload as a KooDrive client makes it, through the upload client's core
// (@koodrive/upload-client): create (with the URLs of the parts that go straight to S3), uploadUrl
// for the parts that go through the service, the parts' PUTs (PartScheduler), complete. Retries are
// the core's (503 and 429 after their Retry-After, capped at 5 s; a 5xx, 13000403 or a cut
// connection after a backoff; create too, since a proxy's 502 may hide a task: the soak counts the
// creates sent), for about 180 s in all before the upload is given up. Every answer is counted; the
// complete's latency is taken from its first request to its final answer.
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Sha256State } from '@koodrive/hashing';
import { KIB, MIB, MIN_PART_SIZE } from '@koodrive/limits';
import {
  type AnsweredCall,
  bearer,
  causeCode,
  envelopeOf,
  fetchTransport,
  type FilePart,
  isEnvelope,
  KooDriveApi,
  type KooDriveApiOptions,
  PartScheduler,
  type PartTransport,
  type PartUrl,
  partRequestOf,
  splitIntoParts,
} from '@koodrive/upload-client';
import type { Session } from '../support.ts';

// retries of one request: with backoff capped at 5 s, about 180 s before its upload is given up
const RETRY = { attempts: 72, baseMs: 100, maxMs: 5_000 };
const random = promisify(randomBytes);

export type Via = 's3' | 'service' | 'mixed';
export interface Interval {
  readonly startMs: number;
  readonly endMs: number;
}

// An upload whose first complete request goes straight to one replica (the soak kills that replica
// while the complete runs there); its retries go through haproxy as usual.
export interface Planted {
  readonly replicaUrl: string;
  readonly onCompleteSent: (fileId: string) => void;
}

export interface UploadRecord {
  readonly fileName: string;
  readonly length: number;
  readonly sha256: string;
  readonly via: Via;
  readonly parts: number;
  fileId?: string;
  outcome: 'succeeded' | 'gave up';
  failure?: string;
  // creates sent: more than 1 when an answer was lost or refused (each may have left a task)
  creates: number;
  // the complete call, from its first request to its final answer (ms since the soak began)
  complete?: Interval;
  completeRequests: number;
}

// What the clients saw, all of them together.
export class Tallies {
  // "complete 200 0", "create 503 13000201", "PUT service 502 proxy", "create error ECONNRESET"
  readonly answers: Record<string, number> = {};
  readonly completeRequestMs: number[] = [];
  // every answer but a success, and every failed connection, with when (s since the soak began)
  readonly incidents: { atSeconds: number; answer: string }[] = [];
  retries = 0;
  bytes = 0;

  count(key: string): void {
    this.answers[key] = (this.answers[key] ?? 0) + 1;
  }

  // answers by HTTP status ("error": none, the connection failed), all kinds together
  byStatus(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const [key, count] of Object.entries(this.answers)) {
      const status = key.split(' ').at(-2)!;
      counts[status] = (counts[status] ?? 0) + count;
    }
    return counts;
  }
}

// A part's bytes, and where its URL points (the tallies count PUTs by it).
interface PartBytes {
  readonly via: 's3' | 'service';
  readonly bytes: Uint8Array;
}

export class SoakClient {
  constructor(
    private readonly baseUrl: string,
    private readonly tallies: Tallies,
    // ms since the soak began
    private readonly now: () => number,
  ) {}

  async upload(session: Session, length: number, via: Via, planted?: Planted): Promise<UploadRecord> {
    const data = await random(length);
    const parts = splitIntoParts(length, MIN_PART_SIZE);
    const states = await partStates(data, parts);
    const record: UploadRecord = {
      fileName: `soak-${randomUUID()}.bin`,
      length,
      sha256: states.sha256,
      via: parts.length === 1 && via === 'mixed' ? 's3' : via,
      parts: parts.length,
      outcome: 'gave up',
      creates: 0,
      completeRequests: 0,
    };
    const api = this.api(this.baseUrl, session, record);
    try {
      const throughService = (n: number): boolean =>
        record.via === 'service' || (record.via === 'mixed' && n % 2 === 0);
      const requests = parts.map((part, i) => partRequestOf(part, states.before[i]));
      const created = await api.create({
        fields: { fileName: record.fileName },
        length,
        sha256: record.sha256,
        // the parts straight to S3 (the deployment's default); the rest through the service
        multiParts: requests.filter((part) => !throughService(part.partNumber)),
      });
      const fileId = (record.fileId = created.fileId);
      const rest = requests.filter((part) => throughService(part.partNumber));
      const known = [...created.multiParts, ...(rest.length === 0 ? [] : await api.uploadUrl(fileId, rest, 'service'))];
      await new PartScheduler<PartBytes>({
        urls: (batch) => urlsOf(api, fileId, batch, throughService),
        transport: this.tallied(),
        bytesOf: (part) => ({
          via: throughService(part.partNumber) ? 'service' : 's3',
          bytes: data.subarray(part.partOffset, part.partOffset + part.partSize),
        }),
        parallel: parts.length,
        known,
        retry: RETRY,
        onBytes: (delta) => (this.tallies.bytes += delta),
        onRetry: () => this.tallies.retries++,
      }).sendAll(requests);
      await this.complete(session, api, record, planted);
    } catch (error) {
      record.failure = error instanceof Error ? error.message : String(error);
    }
    return record;
  }

  // The first request to the planted replica (if any), the rest through haproxy as usual.
  private async complete(session: Session, api: KooDriveApi, record: UploadRecord, planted?: Planted): Promise<void> {
    const startMs = this.now();
    let answer;
    if (planted !== undefined) {
      planted.onCompleteSent(record.fileId!);
      answer = await this.api(planted.replicaUrl, session, record, { retry: { ...RETRY, attempts: 1 } })
        .complete(record.fileId!, record.sha256)
        .catch(() => undefined);
    }
    answer ??= await api.complete(record.fileId!, record.sha256);
    record.complete = { startMs, endMs: this.now() };
    if (answer.sha256 !== record.sha256 || answer.length !== record.length) {
      throw new Error(`complete answered 0 with ${JSON.stringify(answer)}`);
    }
    record.outcome = 'succeeded';
  }

  private api(baseUrl: string, session: Session, record: UploadRecord, options: Partial<KooDriveApiOptions> = {}) {
    return new KooDriveApi({
      baseUrl,
      traceId: randomBytes(16).toString('hex'),
      authenticate: bearer(session.token),
      createRetries: 'any',
      retry: RETRY,
      onRetry: () => this.tallies.retries++,
      onAnswer: (call) => {
        if (call.endpoint === 'create') {
          record.creates++;
        } else if (call.endpoint === 'complete') {
          record.completeRequests++;
          this.tallies.completeRequestMs.push(call.ms);
        }
        this.count(call.endpoint, call.error === undefined ? answerKey(call) : errorKey(call.error), call.status);
      },
      ...options,
    });
  }

  // fetch's PUT, every answer counted
  private tallied(): PartTransport<PartBytes> {
    return {
      put: async (url, part, signal, onBytes) => {
        const kind = `PUT ${part.via}`;
        try {
          const answer = await fetchTransport.put(url, part.bytes, signal, onBytes);
          const code = isEnvelope(answer.text) ? envelopeOf(answer.status, answer.text).code : undefined;
          this.count(kind, `${answer.status} ${code ?? (answer.status === 200 ? 's3' : 'proxy')}`, answer.status);
          return answer;
        } catch (error) {
          this.count(kind, errorKey(error), null);
          throw error;
        }
      },
    };
  }

  private count(kind: string, answer: string, status: number | null): void {
    this.tallies.count(`${kind} ${answer}`);
    if (status !== 200) {
      this.tallies.incidents.push({ atSeconds: Math.round(this.now() / 100) / 10, answer: `${kind} ${answer}` });
    }
  }
}

// Fresh URLs for a batch, each part where it goes.
async function urlsOf(
  api: KooDriveApi,
  fileId: string,
  batch: readonly FilePart[],
  throughService: (n: number) => boolean,
): Promise<PartUrl[]> {
  const service = batch.filter((part) => throughService(part.partNumber));
  const s3 = batch.filter((part) => !throughService(part.partNumber));
  return [
    ...(service.length === 0 ? [] : await api.uploadUrl(fileId, service, 'service')),
    ...(s3.length === 0 ? [] : await api.uploadUrl(fileId, s3, 's3')),
  ];
}

// "200 0", "503 13000201", "502 proxy" (not the service's envelope)
function answerKey(call: AnsweredCall): string {
  return `${call.status} ${call.envelope ? call.code : 'proxy'}`;
}

// "error ECONNRESET": the system error under fetch's failure (under a transport's NetworkError too)
function errorKey(error: unknown): string {
  const code = causeCode(error) ?? (error instanceof Error ? causeCode(error.cause) : undefined);
  return `error ${code ?? (error instanceof Error ? error.message : String(error)).replaceAll(' ', '_')}`;
}

// The file's SHA-256 and the state before each part (the hashCtx words a parallel client sends),
// hashed on the thread pool
async function partStates(data: Buffer, parts: readonly FilePart[]): Promise<{ sha256: string; before: number[][] }> {
  const state = Sha256State.initial();
  const before: number[][] = [];
  for (const part of parts) {
    before.push([...state.state().h]);
    await state.updateAsync(data.subarray(part.partOffset, part.partOffset + part.partSize));
  }
  return { sha256: state.hexDigest(), before };
}

// Mostly small files (1 KiB to 2 MiB, one part), a quarter medium (5 to 20 MiB: 2 to 4 parts) while
// `bytesLeft` allows (the local RGW keeps every byte in RAM: the soak spreads its byte budget over
// the run).
export function pickUpload(bytesLeft: number): { length: number; via: Via } {
  const medium = bytesLeft > 20 * MIB && Math.random() < 0.25;
  const length = medium ? 5 * MIB + Math.floor(Math.random() * 15 * MIB) : Math.floor(KIB * 2 ** (Math.random() * 11));
  const vias: readonly Via[] = ['s3', 'service', 'mixed'];
  return { length, via: vias[Math.floor(Math.random() * vias.length)]! };
}
