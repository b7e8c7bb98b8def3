// The service's one configuration object: read from the environment once, validated, frozen.
// Nothing else in the code base reads process.env.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { type AppCredential, parseAppCredentials } from '@koodrive/protocol';

export interface AppConfig {
  readonly nodeEnv: 'development' | 'production' | 'test';
  readonly host: string;
  readonly port: number;
  // /metrics is served here only (on `host`), never on `port`: Prometheus reaches it, clients don't
  readonly metricsPort: number;
  // browser origins (scheme://host[:port], exactly) whose cross-origin calls are allowed (CORS);
  // empty: none
  readonly corsOrigins: readonly string[];
  // after SIGTERM: seconds the server keeps serving with readiness false, before it closes
  readonly shutdownDrainSeconds: number;
  // the process is gone this long after SIGTERM (the drain included; traces get 1 s more): at the
  // deadline the requests that have not answered get a 503, whatever the dependencies are doing
  readonly shutdownTimeoutSeconds: number;
  // forwarded headers (X-Forwarded-For/-Proto/-Host) are believed only from these addresses or
  // CIDRs (the ingress); empty: from nobody
  readonly trustProxy: readonly string[];
  readonly http: {
    // a request's headers must be in within this
    readonly headersTimeoutSeconds: number;
    // a whole request, body included (a part of up to 5 GiB), within this
    readonly requestTimeoutSeconds: number;
    readonly keepAliveTimeoutSeconds: number;
    // a request body that sends nothing for this long is cut off
    readonly bodyIdleTimeoutSeconds: number;
    // part PUTs through the service one user may have in flight on one replica
    readonly partPutsPerUser: number;
  };
  // every wait on a dependency has a bound; past it the request answers 503 with Retry-After.
  // The defaults answer a request within 5 s whichever dependency stalls (docs/configuration.md,
  // "Timeouts")
  readonly timeouts: {
    // storage: connecting, and no progress on a transfer (a part PUT, a read-back GET: either goes
    // on while bytes flow)
    readonly storageConnectMs: number;
    readonly storageIdleMs: number;
    // one storage call (CreateMultipartUpload, ListParts, HeadObject, ...), its retry included
    readonly storageRequestMs: number;
    // one CompleteMultipartUpload, its retry included (the store may say nothing while it combines)
    readonly storageCombineMs: number;
    // PostgreSQL: a statement (server side; the client gives up 0.5 s later, for a server that does
    // not answer) and a connection from the pool
    readonly databaseStatementMs: number;
    readonly databaseAcquireMs: number;
    readonly redisCommandMs: number;
  };
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  // unset: an embedded PostgreSQL (PGlite, data under dataDir) serves the same code path
  readonly databaseUrl: string | undefined;
  readonly databasePoolSize: number;
  // 'transaction': DATABASE_URL is a pooler in transaction mode (PgBouncer), which refuses (or
  // cannot keep per client) startup parameters: the statement timeout is then the server's
  readonly databasePooler: 'none' | 'transaction';
  // unset, with no sentinels either: sessions, rate limits and events are kept in the process
  readonly redisUrl: string | undefined;
  // the primary found through Redis Sentinel, followed across failovers; REDIS_URL then gives only
  // the credentials, the database number and TLS (rediss:)
  readonly redisSentinel: RedisSentinelConfig | undefined;
  // where the embedded parts keep their data (PGlite's database, the local-disk object store)
  readonly dataDir: string;
  // embedded only (REDIS_URL unset): the demo user's token; unset, a fresh one is printed at boot
  readonly demoToken: string | undefined;
  readonly s3: {
    // unset: objects are kept on local disk under dataDir (parts go through the service)
    readonly endpoint: string | undefined;
    readonly publicEndpoint: string | undefined;
    readonly bucket: string;
    readonly forcePathStyle: boolean;
    readonly region: string;
    readonly accessKeyId: string | undefined;
    readonly secretAccessKey: string | undefined;
    readonly keyPrefix: string;
  };
  // apps that sign their requests (API.md, "App authentication"), by AppId
  readonly appCredentials: ReadonlyMap<string, AppCredential>;
  readonly rateLimit: {
    // requests one user may make per window; 0 turns the limit off
    readonly requests: number;
    readonly windowSeconds: number;
  };
  readonly upload: {
    readonly taskTtlSeconds: number;
    readonly partUrlTtlSeconds: number;
    readonly completeLeaseSeconds: number;
    readonly completeWaitSeconds: number;
    // where uploadUrl sends part bytes by default: straight to S3 (presigned URLs) or through this
    // service (signed URLs of its own; the service streams them to S3 and records each part's
    // SHA-256 end state, so complete needs no read-back). A request may ask for either.
    readonly partUploadVia: 's3' | 'service';
    // base URL clients reach this service at (for its part URLs); unset (never in production):
    // taken from the request
    readonly publicUrl: string | undefined;
    // open upload tasks one user may hold (create answers 13000903 past it)
    readonly maxOpenPerUser: number;
    // HMAC key signing the service's part URLs; every replica needs the same one
    readonly partUrlSecret: string;
    // a PUT through the service holds its part's lease this long, renewed every third of it while
    // it runs; a PUT that cannot renew stops before its lease ends, so a second PUT of the part
    // (refused while the lease holds) never runs beside it
    readonly partPutLeaseSeconds: number;
  };
  // the read-back that proves a combined file: one streamed GET (window 0), or `window` ranged
  // GETs in flight, hashed in order
  readonly verify: {
    readonly rangeBytes: number;
    readonly window: number;
    readonly retries: number;
    // parallel-mode files: parts hashed at once, each from its hashCtx, on the thread pool
    readonly parallelParts: number;
  };
  // background work every replica runs; safe to run in many at once (0 turns one off)
  readonly maintenance: {
    readonly reconcileIntervalSeconds: number;
    readonly reapIntervalSeconds: number;
    readonly outboxRelayIntervalMs: number;
    // the outbox's days (when pg_partman partitions it): made ahead and dropped once all their
    // events are published and the day is older than the retention
    readonly outboxPartitionIntervalSeconds: number;
    readonly outboxRetentionDays: number;
    readonly eventsStream: string;
    // events count as published once this many replicas have them (Redis WAIT): a failover then
    // cannot promote a replica that lacks them
    readonly eventsWaitReplicas: number;
  };
  readonly telemetry: {
    readonly disabled: boolean;
    readonly serviceName: string;
    readonly otlpEndpoint: string | undefined;
  };
}

export interface RedisSentinelConfig {
  readonly sentinels: readonly { readonly host: string; readonly port: number }[];
  // the name the sentinels monitor the primary under
  readonly name: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string {
    const value = this.optional(name);
    return value ?? fallback;
  }

  optional(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  url(name: string, fallback: string | undefined, protocols: readonly string[]): string | undefined {
    const value = this.optional(name) ?? fallback;
    if (value === undefined) {
      return undefined;
    }
    try {
      const url = new URL(value);
      if (!protocols.includes(url.protocol)) {
        this.problems.push(`${name} must be a ${protocols.join(' or ')} URL, got protocol "${url.protocol}"`);
      }
    } catch {
      this.problems.push(`${name} must be a URL`);
    }
    return value;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.optional(name);
    if (raw === undefined) {
      return fallback;
    }
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || value < min || value > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.optional(name)?.toLowerCase();
    if (raw === undefined) {
      return fallback;
    }
    if (raw === 'true' || raw === '1') {
      return true;
    }
    if (raw === 'false' || raw === '0') {
      return false;
    }
    this.problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.optional(name);
    if (raw === undefined) {
      return fallback;
    }
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  }
}

// Variables whose default (an embedded part, a local key) suits a local run only: in production
// they must be given.
export const REQUIRED_IN_PRODUCTION = [
  'DATABASE_URL',
  'REDIS_URL',
  'S3_ENDPOINT',
  'S3_BUCKET',
  'PART_URL_SECRET',
  // part URLs are never built from a request's Host, which the caller chooses
  'PUBLIC_URL',
] as const;

// TRUST_PROXY: comma-separated IPs or CIDRs (IPv4 or IPv6), as Fastify's trustProxy takes them.
function trustProxy(r: Reader): string[] {
  const entries = (r.optional('TRUST_PROXY') ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const entry of entries) {
    const [address = '', bits, ...rest] = entry.split('/');
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    if (family === 0 || rest.length > 0 || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= maxBits))) {
      r.problems.push(`TRUST_PROXY must list IP addresses or CIDRs, got "${entry}"`);
    }
  }
  return entries;
}

// CORS_ORIGINS: comma-separated origins, each exactly as a browser sends it in `Origin`.
function corsOrigins(r: Reader): string[] {
  const entries = (r.optional('CORS_ORIGINS') ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const entry of entries) {
    let origin: string | undefined;
    try {
      const url = new URL(entry);
      origin = url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
    } catch {
      origin = undefined;
    }
    if (origin !== entry) {
      r.problems.push(
        `CORS_ORIGINS must list origins such as https://app.example.com (scheme, host, port; no path, no *), got "${entry}"`,
      );
    }
  }
  return entries;
}

// METRICS_PORT: its own listener, never the API's (0 picks a free port, as PORT=0 does).
function metricsPort(r: Reader, port: number): number {
  const value = r.int('METRICS_PORT', 9464, 0, 65535);
  if (value !== 0 && value === port) {
    r.problems.push(`METRICS_PORT must differ from PORT (${port}): /metrics is not served on the API's port`);
  }
  return value;
}

function demoToken(r: Reader): string | undefined {
  const token = r.optional('DEMO_TOKEN');
  if (token !== undefined && !/^[\x21-\x7E]{16,4096}$/.test(token)) {
    r.problems.push('DEMO_TOKEN must be 16 or more printable ASCII characters without spaces');
  }
  return token;
}

// APP_CREDENTIALS (the JSON itself) or APP_CREDENTIALS_FILE (a file holding it, e.g. a mounted
// Kubernetes Secret); neither: no app may sign in.
function appCredentials(r: Reader): ReadonlyMap<string, AppCredential> {
  const inline = r.optional('APP_CREDENTIALS');
  const file = r.optional('APP_CREDENTIALS_FILE');
  if (inline !== undefined && file !== undefined) {
    r.problems.push('set APP_CREDENTIALS or APP_CREDENTIALS_FILE, not both');
    return new Map();
  }
  let json = inline;
  if (file !== undefined) {
    try {
      json = readFileSync(file, 'utf8');
    } catch (error) {
      r.problems.push(`APP_CREDENTIALS_FILE could not be read: ${(error as Error).message}`);
      return new Map();
    }
  }
  try {
    return json === undefined ? new Map() : parseAppCredentials(json);
  } catch (error) {
    r.problems.push(`${file === undefined ? 'APP_CREDENTIALS' : 'APP_CREDENTIALS_FILE'}: ${(error as Error).message}`);
    return new Map();
  }
}

// REDIS_SENTINELS (host:port,...; [v6]:port) and REDIS_SENTINEL_NAME, together or not at all.
function sentinel(r: Reader): RedisSentinelConfig | undefined {
  const list = r.optional('REDIS_SENTINELS');
  const name = r.optional('REDIS_SENTINEL_NAME');
  if (list === undefined || name === undefined) {
    if (list !== undefined || name !== undefined) {
      r.problems.push('REDIS_SENTINELS and REDIS_SENTINEL_NAME must be set together');
    }
    return undefined;
  }
  const sentinels = list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(entry);
      const port = Number(match?.[2]);
      if (match === null || port < 1 || port > 65535) {
        r.problems.push(`REDIS_SENTINELS must list host:port entries, got "${entry}"`);
        return undefined;
      }
      return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
    });
  if (sentinels.length === 0) {
    r.problems.push('REDIS_SENTINELS lists no sentinel');
  }
  return { sentinels: sentinels.filter((s) => s !== undefined), name };
}

// A local run without PART_URL_SECRET signs with a key of its own (its part URLs die with the
// process); production must share one key across replicas.
function partUrlSecret(r: Reader): string {
  const secret = r.optional('PART_URL_SECRET');
  if (secret !== undefined && secret.length < 32) {
    r.problems.push('PART_URL_SECRET must be at least 32 characters');
  }
  return secret ?? randomBytes(32).toString('hex');
}

export function loadConfig(env: Env): AppConfig {
  const r = new Reader(env);
  if (r.optional('NODE_ENV') === 'production') {
    for (const name of REQUIRED_IN_PRODUCTION) {
      const given = name === 'REDIS_URL' ? (r.optional(name) ?? r.optional('REDIS_SENTINELS')) : r.optional(name);
      if (given === undefined) {
        r.problems.push(`${name} is required when NODE_ENV=production (the default only suits a local run)`);
      }
    }
  }
  const s3Endpoint = r.url('S3_ENDPOINT', undefined, ['http:', 'https:']);
  const accessKeyId = r.optional('AWS_ACCESS_KEY_ID');
  const secretAccessKey = r.optional('AWS_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    r.problems.push(
      'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (or neither, for the default chain)',
    );
  }
  const bucket = r.string('S3_BUCKET', 'koodrive-uploads');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    r.problems.push(`S3_BUCKET must be a valid bucket name, got "${bucket}"`);
  }
  const partUrlTtlSeconds = r.int('PART_URL_TTL_SECONDS', 3600, 60, 7 * 24 * 3600);
  const redisSentinel = sentinel(r);
  const taskTtlSeconds = r.int('UPLOAD_TASK_TTL_SECONDS', 7 * 24 * 3600, 3600, 365 * 24 * 3600);
  const port = r.int('PORT', 3000, 0, 65535);
  const shutdownDrainSeconds = r.int('SHUTDOWN_DRAIN_SECONDS', 5, 0, 120);
  const shutdownTimeoutSeconds = r.int('SHUTDOWN_TIMEOUT_SECONDS', 20, 1, 3600);
  if (shutdownDrainSeconds >= shutdownTimeoutSeconds) {
    r.problems.push(
      `SHUTDOWN_DRAIN_SECONDS (${shutdownDrainSeconds}) must be below SHUTDOWN_TIMEOUT_SECONDS (${shutdownTimeoutSeconds}), which counts from the signal`,
    );
  }

  const config: AppConfig = {
    nodeEnv: r.oneOf('NODE_ENV', 'development', ['development', 'production', 'test']),
    // local only unless told otherwise (the image and the manifests set 0.0.0.0)
    host: r.string('HOST', '127.0.0.1'),
    port,
    metricsPort: metricsPort(r, port),
    corsOrigins: corsOrigins(r),
    shutdownDrainSeconds,
    shutdownTimeoutSeconds,
    trustProxy: trustProxy(r),
    http: {
      headersTimeoutSeconds: r.int('HTTP_HEADERS_TIMEOUT_SECONDS', 15, 1, 300),
      requestTimeoutSeconds: r.int('HTTP_REQUEST_TIMEOUT_SECONDS', 3600, 10, 86_400),
      keepAliveTimeoutSeconds: r.int('HTTP_KEEP_ALIVE_TIMEOUT_SECONDS', 65, 1, 3600),
      bodyIdleTimeoutSeconds: r.int('HTTP_BODY_IDLE_TIMEOUT_SECONDS', 30, 1, 3600),
      partPutsPerUser: r.int('PART_PUTS_PER_USER', 16, 1, 10_000),
    },
    timeouts: {
      storageConnectMs: r.int('STORAGE_CONNECT_TIMEOUT_MS', 1_000, 100, 600_000),
      storageIdleMs: r.int('STORAGE_IDLE_TIMEOUT_MS', 3_000, 100, 3_600_000),
      storageRequestMs: r.int('STORAGE_REQUEST_TIMEOUT_MS', 3_000, 100, 600_000),
      storageCombineMs: r.int('STORAGE_COMBINE_TIMEOUT_MS', 60_000, 1_000, 3_600_000),
      databaseStatementMs: r.int('DATABASE_STATEMENT_TIMEOUT_MS', 3_000, 100, 3_600_000),
      databaseAcquireMs: r.int('DATABASE_ACQUIRE_TIMEOUT_MS', 3_000, 100, 600_000),
      redisCommandMs: r.int('REDIS_COMMAND_TIMEOUT_MS', 2_000, 50, 600_000),
    },
    logLevel: r.oneOf('LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace']),
    databaseUrl: r.url('DATABASE_URL', undefined, ['postgresql:', 'postgres:']),
    databasePoolSize: r.int('DATABASE_POOL_SIZE', 10, 1, 200),
    databasePooler: r.oneOf('DATABASE_POOLER', 'none', ['none', 'transaction']),
    redisUrl: r.url('REDIS_URL', undefined, ['redis:', 'rediss:']),
    redisSentinel,
    dataDir: r.string('DATA_DIR', '.data'),
    demoToken: demoToken(r),
    s3: {
      endpoint: s3Endpoint,
      publicEndpoint: r.url('S3_PUBLIC_ENDPOINT', undefined, ['http:', 'https:']),
      bucket,
      forcePathStyle: r.bool('S3_FORCE_PATH_STYLE', false),
      region: r.string('AWS_REGION', 'us-east-1'),
      accessKeyId,
      secretAccessKey,
      keyPrefix: r.string('S3_KEY_PREFIX', 'files/'),
    },
    appCredentials: appCredentials(r),
    rateLimit: {
      requests: r.int('RATE_LIMIT_REQUESTS', 600, 0, 1_000_000),
      windowSeconds: r.int('RATE_LIMIT_WINDOW_SECONDS', 60, 1, 3600),
    },
    upload: {
      taskTtlSeconds,
      partUrlTtlSeconds,
      completeLeaseSeconds: r.int('COMPLETE_LEASE_SECONDS', 60, 1, 3600),
      completeWaitSeconds: r.int('COMPLETE_WAIT_SECONDS', 120, 1, 3600),
      partUploadVia: r.oneOf('PART_UPLOAD_VIA', 's3', ['s3', 'service']),
      publicUrl: r.url('PUBLIC_URL', undefined, ['http:', 'https:'])?.replace(/\/+$/, ''),
      maxOpenPerUser: r.int('MAX_OPEN_UPLOADS_PER_USER', 1000, 1, 1_000_000),
      partUrlSecret: partUrlSecret(r),
      partPutLeaseSeconds: r.int('PART_PUT_LEASE_SECONDS', 30, 3, 3600),
    },
    verify: {
      rangeBytes: r.int('VERIFY_RANGE_BYTES', 16 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
      window: r.int('VERIFY_WINDOW', 4, 0, 64),
      retries: r.int('VERIFY_RETRIES', 3, 0, 10),
      parallelParts: r.int('VERIFY_PARALLEL_PARTS', Math.max(2, availableParallelism()), 1, 64),
    },
    maintenance: {
      reconcileIntervalSeconds: r.int('RECONCILE_INTERVAL_SECONDS', 15, 0, 3600),
      reapIntervalSeconds: r.int('REAP_INTERVAL_SECONDS', 60, 0, 86_400),
      outboxRelayIntervalMs: r.int('OUTBOX_RELAY_INTERVAL_MS', 500, 0, 60_000),
      outboxPartitionIntervalSeconds: r.int('OUTBOX_PARTITION_INTERVAL_SECONDS', 3600, 0, 86_400),
      outboxRetentionDays: r.int('OUTBOX_RETENTION_DAYS', 7, 1, 3650),
      eventsStream: r.string('EVENTS_STREAM', 'koodrive:file-events'),
      eventsWaitReplicas: r.int('EVENTS_WAIT_REPLICAS', redisSentinel === undefined ? 0 : 1, 0, 16),
    },
    telemetry: {
      disabled: r.bool('OTEL_SDK_DISABLED', false),
      serviceName: r.string('OTEL_SERVICE_NAME', 'koodrive-upload'),
      otlpEndpoint: r.url('OTEL_EXPORTER_OTLP_ENDPOINT', undefined, ['http:', 'https:']),
    },
  };
  if (r.problems.length > 0) {
    throw new ConfigError(r.problems);
  }
  return deepFreeze(config);
}

// The embedded mode: every dependency in the process (no PostgreSQL, Redis nor S3 configured), as
// `npm start` runs on a fresh clone.
export function isEmbedded(config: AppConfig): boolean {
  return (
    config.databaseUrl === undefined &&
    config.redisUrl === undefined &&
    config.redisSentinel === undefined &&
    config.s3.endpoint === undefined
  );
}

export const APP_CONFIG = Symbol('APP_CONFIG');

let cached: AppConfig | undefined;

// The process environment, read once; tracing (before Nest) and the Nest providers share it.
export function loadAppConfig(): AppConfig {
  cached ??= loadConfig(process.env);
  return cached;
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) {
      deepFreeze(child as object);
    }
  }
  return Object.freeze(value);
}
