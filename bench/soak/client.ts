// The soak's client: one upload as a KooDrive client makes it (create, uploadUrl when needed, the
// parts' PUTs straight to S3 or through the service, complete), retrying as the contract says:
// 503 and 429 after their Retry-After, 13000403 (busy) and a proxy's 502/504 or a cut connection
// after a backoff; a complete is sent again as it was (complete is idempotent). Every answer is
// counted; the complete's latency is taken from its first request to its final answer.
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sha256State } from '@koodrive/hashing';
import { KIB, MIB, MIN_PART_SIZE } from '@koodrive/limits';
import type { Session } from '../support.ts';

// a request still failing after this long of retries is given up, and its upload with it
const GIVE_UP_MS = 180_000;
const RETRY_AFTER_CAP_SECONDS = 5;
const BUSY = 13000403;
const random = promisify(randomBytes);

export type Via = 's3' | 'service' | 'mixed';
type RequestKind = 'create' | 'uploadUrl' | 'complete' | 'PUT s3' | 'PUT service';

interface Answer {
  readonly status: number;
  // the envelope's code; undefined when the body is not the service's JSON (a proxy's page, S3)
  readonly code: number | undefined;
  readonly body: Record<string, unknown>;
  readonly retryAfterSeconds: number | undefined;
}

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

export class SoakClient {
  constructor(
    private readonly baseUrl: string,
    private readonly tallies: Tallies,
    // ms since the soak began
    private readonly now: () => number,
  ) {}

  async upload(session: Session, length: number, via: Via, planted?: Planted): Promise<UploadRecord> {
    const data = await random(length);
    const parts = partsOf(length);
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
    try {
      const plans = parts.map((part, i) => ({ ...part, ...(i > 0 ? { hashCtx: states.before[i] } : {}) }));
      const urls = await this.partUrls(session, record, plans);
      await Promise.all(urls.map((url) => this.put(url, data)));
      await this.complete(session, record, planted);
    } catch (error) {
      record.failure = error instanceof Error ? error.message : String(error);
    }
    return record;
  }

  // create (with the parts that go straight to S3: the default of the deployment), then uploadUrl
  // with uploadVia service for the parts that go through the service
  private async partUrls(session: Session, record: UploadRecord, plans: PartPlan[]): Promise<PartUrl[]> {
    const throughService = (n: number): boolean => record.via === 'service' || (record.via === 'mixed' && n % 2 === 0);
    const created = await this.call(
      'create',
      session,
      {
        fileName: record.fileName,
        length: record.length,
        sha256: record.sha256,
        multiParts: plans.filter((plan) => !throughService(plan.partNumber)),
      },
      () => record.creates++,
    );
    record.fileId = created.fileId as string;
    const urls = created.multiParts as PartUrl[];
    const rest = plans.filter((plan) => throughService(plan.partNumber));
    if (rest.length > 0) {
      const asked = await this.call('uploadUrl', session, {
        fileId: record.fileId,
        uploadVia: 'service',
        multiParts: rest,
      });
      urls.push(...(asked.multiParts as PartUrl[]));
    }
    return urls;
  }

  private async complete(session: Session, record: UploadRecord, planted: Planted | undefined): Promise<void> {
    const startMs = this.now();
    const answer = await this.call(
      'complete',
      session,
      { fileId: record.fileId, sha256: record.sha256 },
      () => {
        if (record.completeRequests++ === 0) {
          planted?.onCompleteSent(record.fileId!);
        }
      },
      planted?.replicaUrl,
    );
    record.complete = { startMs, endMs: this.now() };
    if (answer.sha256 !== record.sha256 || answer.length !== record.length) {
      throw new Error(`complete answered 0 with ${JSON.stringify(answer)}`);
    }
    record.outcome = 'succeeded';
  }

  // One API call, retried until it is answered for good; anything but code 0 then is thrown.
  private async call(
    kind: 'create' | 'uploadUrl' | 'complete',
    session: Session,
    body: unknown,
    onSend = (): void => undefined,
    // where the first request goes, if not through haproxy
    firstTo = this.baseUrl,
  ): Promise<Record<string, unknown>> {
    const path = `/koodrive/ose/v1/files/${kind === 'uploadUrl' ? 'multipart/uploadUrl' : kind}`;
    const url = (attempt: number): string => `${attempt === 0 ? firstTo : this.baseUrl}${path}`;
    const answer = await this.withRetries(kind, url, () => {
      onSend();
      return {
        method: 'POST',
        headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      };
    });
    if (answer.code !== 0) {
      throw new Error(`${kind} answered HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    return answer.body;
  }

  private async put(url: PartUrl, data: Buffer): Promise<void> {
    const bytes = data.subarray(url.partOffset, url.partOffset + url.partSize);
    const kind = url.uploadVia === 'service' ? 'PUT service' : 'PUT s3';
    const answer = await this.withRetries(
      kind,
      () => url.uploadUrl,
      () => ({ method: 'PUT', body: bytes }),
    );
    if (answer.status !== 200 || (kind === 'PUT service' && answer.code !== 0)) {
      throw new Error(
        `${kind} of part ${url.partNumber} answered HTTP ${answer.status} ${JSON.stringify(answer.body)}`,
      );
    }
    this.tallies.bytes += bytes.length;
  }

  private async withRetries(
    kind: RequestKind,
    url: (attempt: number) => string,
    init: () => RequestInit,
  ): Promise<Answer> {
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      const sent = performance.now();
      const answer = await send(url(attempt), init());
      if (kind === 'complete') {
        this.tallies.completeRequestMs.push(performance.now() - sent);
      }
      this.tallies.count(`${kind} ${answerKey(answer)}`);
      if (answer instanceof Error || answer.status !== 200) {
        this.tallies.incidents.push({
          atSeconds: Math.round(this.now() / 100) / 10,
          answer: `${kind} ${answerKey(answer)}`,
        });
      }
      const delayMs = answer instanceof Error ? backoffMs(attempt) : retryDelayMs(answer, attempt);
      if (delayMs === undefined) {
        return answer as Answer;
      }
      if (performance.now() - started + delayMs > GIVE_UP_MS) {
        throw new Error(`${kind}: still failing after ${GIVE_UP_MS / 1000} s of retries: ${answerKey(answer)}`);
      }
      this.tallies.retries++;
      await sleep(delayMs);
    }
  }
}

async function send(url: string, init: RequestInit): Promise<Answer | Error> {
  try {
    const response = await fetch(url, init);
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // a proxy's error page, or S3's empty 200
    }
    const retryAfter = response.headers.get('retry-after');
    return {
      status: response.status,
      code: typeof body.code === 'number' ? body.code : undefined,
      body,
      retryAfterSeconds: retryAfter === null ? undefined : Number(retryAfter),
    };
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

// "200 0", "503 13000201", "502 proxy" (not the service's envelope), "error ECONNRESET"
function answerKey(answer: Answer | Error): string {
  if (answer instanceof Error) {
    const cause = (answer.cause as { code?: string } | undefined)?.code;
    return `error ${cause ?? answer.message.replaceAll(' ', '_')}`;
  }
  return `${answer.status} ${answer.code ?? (answer.status === 200 ? 's3' : 'proxy')}`;
}

function backoffMs(attempt: number): number {
  return Math.min(3000, 100 * 2 ** attempt) * (0.5 + Math.random());
}

// How long to wait before sending again, or undefined: this answer is final.
function retryDelayMs(answer: Answer, attempt: number): number | undefined {
  if (answer.status === 503 || answer.status === 429) {
    return answer.retryAfterSeconds === undefined || Number.isNaN(answer.retryAfterSeconds)
      ? backoffMs(attempt)
      : Math.min(answer.retryAfterSeconds, RETRY_AFTER_CAP_SECONDS) * 1000;
  }
  if (answer.status === 502 || answer.status === 504 || answer.status === 500 || answer.code === BUSY) {
    return backoffMs(attempt);
  }
  return undefined;
}

interface PartPlan {
  readonly partNumber: number;
  readonly partSize: number;
  readonly partOffset: number;
}

interface PartUrl extends PartPlan {
  readonly uploadUrl: string;
  readonly uploadVia: 's3' | 'service';
}

// 5 MiB parts, the last one smaller; a file under 5 MiB is one part
function partsOf(length: number): PartPlan[] {
  const parts: PartPlan[] = [];
  for (let offset = 0; offset < length || parts.length === 0; offset += MIN_PART_SIZE) {
    parts.push({
      partNumber: parts.length + 1,
      partSize: Math.min(MIN_PART_SIZE, length - offset),
      partOffset: offset,
    });
  }
  return parts;
}

// The file's SHA-256 and the state before each part (the hashCtx words a parallel client sends),
// hashed on the thread pool
async function partStates(data: Buffer, parts: readonly PartPlan[]): Promise<{ sha256: string; before: number[][] }> {
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
