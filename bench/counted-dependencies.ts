// PostgreSQL, Redis and S3 behind counting proxies: a process pointed at `env()` has every
// statement, command and S3 request it makes counted (bench/wire-counters.ts). Presigned URLs keep
// pointing at the store itself (S3_PUBLIC_ENDPOINT), so a client's part PUTs are not counted.
import { FaultProxy } from '../tools/testing/fault-proxy.ts';
import {
  type PgCounts,
  PgWireObserver,
  type RespCounts,
  RespWireObserver,
  type Tally,
  emptyPgCounts,
  emptyRespCounts,
  s3Tally,
} from './wire-counters.ts';
import type { Env } from './support.ts';

export interface DependencyCounts {
  readonly pg: PgCounts;
  readonly redis: RespCounts;
  // S3 requests by operation
  readonly s3: Tally;
}

export class CountedDependencies {
  private readonly pgCounts = emptyPgCounts();
  private readonly redisCounts = emptyRespCounts();
  private readonly bucket: string;
  private readonly real: Env;
  private proxies: { pg: FaultProxy; redis: FaultProxy; s3: FaultProxy } | undefined;

  private constructor(real: Env) {
    this.real = real;
    this.bucket = real.S3_BUCKET!;
  }

  // `real`: DATABASE_URL, REDIS_URL, S3_ENDPOINT and S3_BUCKET of the services themselves
  static async start(real: Env): Promise<CountedDependencies> {
    const counted = new CountedDependencies(real);
    const pgCounts = counted.pgCounts;
    const redisCounts = counted.redisCounts;
    counted.proxies = {
      pg: await FaultProxy.start(real.DATABASE_URL!, { observe: () => new PgWireObserver(pgCounts) }),
      redis: await FaultProxy.start(real.REDIS_URL!, { observe: () => new RespWireObserver(redisCounts) }),
      s3: await FaultProxy.start(real.S3_ENDPOINT!, { http: true }),
    };
    return counted;
  }

  // The variables that send a process through the proxies.
  env(): Env {
    const { pg, redis, s3 } = this.proxies!;
    return {
      DATABASE_URL: pg.url(this.real.DATABASE_URL!),
      REDIS_URL: redis.url(this.real.REDIS_URL!),
      S3_ENDPOINT: s3.url(this.real.S3_ENDPOINT!),
      S3_PUBLIC_ENDPOINT: this.real.S3_ENDPOINT!,
    };
  }

  // Everything counted so far (a copy).
  snapshot(): DependencyCounts {
    return structuredClone({
      pg: this.pgCounts,
      redis: this.redisCounts,
      s3: s3Tally(this.proxies!.s3.requests, this.bucket),
    });
  }

  // What was counted since `before` (a snapshot).
  since(before: DependencyCounts): DependencyCounts {
    return countsBetween(before, this.snapshot());
  }

  async stop(): Promise<void> {
    const proxies = this.proxies;
    this.proxies = undefined;
    await Promise.all(Object.values(proxies ?? {}).map((proxy) => proxy.stop()));
  }
}

// `after` less `before`, field by field.
export function countsBetween(before: DependencyCounts, after: DependencyCounts): DependencyCounts {
  return combine(after, before, -1);
}

// `a` and `b` together.
export function countsAdded(a: DependencyCounts, b: DependencyCounts): DependencyCounts {
  return combine(a, b, 1);
}

// a + sign × b, field by field (names counted 0 are left out of a tally)
function combine(a: DependencyCounts, b: DependencyCounts, sign: 1 | -1): DependencyCounts {
  const tally = (x: Tally, y: Tally): Tally => {
    const out: Tally = { ...x };
    for (const [name, n] of Object.entries(y)) {
      out[name] = (out[name] ?? 0) + sign * n;
    }
    return Object.fromEntries(Object.entries(out).filter(([, n]) => n !== 0));
  };
  const fields = <T extends object>(x: T, y: T): T =>
    Object.fromEntries(
      Object.entries(x).map(([name, value]) => {
        const other = (y as Record<string, unknown>)[name];
        return [
          name,
          typeof value === 'number' ? value + sign * (other as number) : tally(value as Tally, other as Tally),
        ];
      }),
    ) as T;
  return { pg: fields(a.pg, b.pg), redis: fields(a.redis, b.redis), s3: tally(a.s3, b.s3) };
}
