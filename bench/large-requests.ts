// The cost of the largest requests the contract allows (issue 23): a create listing 10,000 parts
// and an uploadUrl of the same 10,000 parts, each answered with 10,000 presigned S3 URLs. The
// service's CPU time per request, from /proc (the service does nothing else meanwhile), median of
// --large-rounds after a warm-up, beside the target (150 ms). With --service-root and --before-root
// the two builds are measured in the same run, alternately.
import type { Redis } from 'ioredis';
import { MIB } from '@koodrive/limits';
import type { Contender } from './contenders.ts';
import { type Env, newSession, processCpuSeconds, serviceEnv, stopService } from './support.ts';

export const LARGE_PARTS = 10_000;
export const LARGE_TARGET_MS = 150;

export interface LargeRequestResult {
  readonly contender: string;
  readonly createMs: number;
  readonly uploadUrlMs: number;
  readonly rounds: number;
  readonly answerBytes: number;
}

const PART_SIZE = 5 * MIB;

function partList(): object[] {
  return Array.from({ length: LARGE_PARTS }, (_, i) => ({
    partNumber: i + 1,
    partSize: PART_SIZE,
    partOffset: i * PART_SIZE,
    // parallel mode, as KooDrive's clients send it (the state words after the bytes before the part)
    ...(i === 0
      ? {}
      : { hashCtx: [1779033703, 3144134277, 1013904242, 2773480762, 1359893119, 2600822924, 528734635, i] }),
  }));
}

export async function measureLargeRequests(
  contenders: readonly Contender[],
  redis: Redis,
  options: { readonly rounds: number; readonly port: number; readonly nodeArgs?: (side: string) => string[] },
): Promise<LargeRequestResult[]> {
  const multiParts = partList();
  const results: LargeRequestResult[] = [];
  for (const contender of contenders) {
    const env: Env = serviceEnv(options.port, { RATE_LIMIT_REQUESTS: '0', PART_UPLOAD_VIA: 's3' });
    const service = await contender.start(env, options.nodeArgs?.(contender.side) ?? []);
    try {
      const session = await newSession(redis, 'bench-large');
      const baseUrl = `http://127.0.0.1:${env.PORT}/koodrive/ose/v1/files`;
      // one request's CPU: the service's time across it, and the size of its answer
      const timed = async (
        path: string,
        body: object,
      ): Promise<{ ms: number; answer: Record<string, unknown>; bytes: number }> => {
        const before = await processCpuSeconds(service.pid!);
        const response = await fetch(`${baseUrl}/${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        const text = await response.text();
        const ms = ((await processCpuSeconds(service.pid!)) - before) * 1000;
        const answer = JSON.parse(text) as Record<string, unknown>;
        if (answer.code !== 0 || (answer.multiParts as unknown[]).length !== LARGE_PARTS) {
          throw new Error(`${path} answered ${text.slice(0, 200)}`);
        }
        return { ms, answer, bytes: text.length };
      };
      const round = async (): Promise<{ create: number; uploadUrl: number; bytes: number }> => {
        const created = await timed('create', {
          fileName: `large-${Date.now()}.bin`,
          length: LARGE_PARTS * PART_SIZE,
          multiParts,
        });
        const asked = await timed('multipart/uploadUrl', { fileId: created.answer.fileId, multiParts });
        return { create: created.ms, uploadUrl: asked.ms, bytes: created.bytes };
      };
      await round();
      const rounds = [];
      for (let i = 0; i < options.rounds; i++) {
        rounds.push(await round());
      }
      results.push({
        contender: contender.label,
        createMs: median(rounds.map((r) => r.create)),
        uploadUrlMs: median(rounds.map((r) => r.uploadUrl)),
        rounds: options.rounds,
        answerBytes: rounds[0]!.bytes,
      });
    } finally {
      await stopService(service);
    }
  }
  return results;
}

export function largeRequestTable(results: readonly LargeRequestResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.contender} | ${r.createMs.toFixed(0)} | ${r.uploadUrlMs.toFixed(0)} | ≤ ${LARGE_TARGET_MS} | ${(r.answerBytes / MIB).toFixed(1)} MiB | ${r.rounds} |`,
  );
  return [
    `## Large requests: ${LARGE_PARTS} parts, service CPU ms per request (median)`,
    '',
    '| contender | create | uploadUrl | target | answer | rounds |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
