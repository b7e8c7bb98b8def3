import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { Inject, Injectable, type OnApplicationShutdown, Optional } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { dependencyDuration } from '@koodrive/metrics';
import { PrismaClient } from './generated/prisma/client.js';
import { SqlClient } from './sql.js';

// The database the client connects to: DATABASE_URL's server, or the embedded one DatabaseModule starts.
export const DATABASE_CONNECTION = Symbol('DATABASE_CONNECTION');

// the client stops waiting this long after the server's statement bound: a server that answers
// nothing (stopped, partitioned) is given up on at DATABASE_STATEMENT_TIMEOUT_MS + 0.5 s
const QUERY_TIMEOUT_MARGIN_MS = 500;

export interface DatabaseConnection {
  readonly url: string;
  readonly poolSize: number;
  // how long an idle pooled connection stays open (pg's default when unset; 0: for good)
  readonly idleTimeoutMillis?: number;
  // run once the client has disconnected (stops the embedded database)
  readonly close?: () => Promise<void>;
}

@Injectable()
export class PrismaService extends PrismaClient implements OnApplicationShutdown {
  private readonly connection: DatabaseConnection;
  private readonly pool: pg.Pool;
  // the hot paths' statements, on the same pool
  readonly sql: SqlClient;

  // `connection` defaults to DATABASE_URL's server (the integration tests construct this directly)
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Optional() @Inject(DATABASE_CONNECTION) connection?: DatabaseConnection,
  ) {
    const target = connection ?? externalConnection(config);
    const { databaseStatementMs: statementMs, databaseAcquireMs: acquireMs } = config.timeouts;
    const pool = poolFor(target, config);
    super({
      adapter: new PrismaPg(pool),
      // an interactive transaction: its connection within the acquire bound, its statements
      // within two statement bounds
      transactionOptions: { maxWait: acquireMs, timeout: 2 * statementMs },
      log: [{ emit: 'event', level: 'query' }],
    });
    this.connection = target;
    this.pool = pool;
    this.sql = new SqlClient(pool);
    // every statement's latency, by its verb (SELECT, INSERT, UPDATE, BEGIN, ...)
    this.$on('query' as never, (event: { query: string; duration: number }) => {
      const operation = /^\s*"?(\w+)/.exec(event.query)?.[1]?.toUpperCase() ?? 'OTHER';
      dependencyDuration.observe({ dependency: 'postgres', operation, outcome: 'ok' }, event.duration / 1000);
    });
  }

  // after the HTTP server and the background jobs have stopped (they run in onModuleDestroy)
  async onApplicationShutdown(): Promise<void> {
    await this.close();
    await this.connection.close?.();
  }

  // Prisma's connection and the pool both share: what a test that made this client ends it with.
  async close(): Promise<void> {
    await this.$disconnect();
    if (!this.pool.ended) {
      await this.pool.end();
    }
  }
}

// The connections Prisma's client and the hot paths' SQL share.
function poolFor(target: DatabaseConnection, config: AppConfig): pg.Pool {
  const { databaseStatementMs: statementMs, databaseAcquireMs: acquireMs } = config.timeouts;
  const pool = new pg.Pool({
    connectionString: target.url,
    max: target.poolSize,
    // waiting for a pooled connection (and connecting)
    connectionTimeoutMillis: acquireMs,
    // the server cancels a statement past this (a lock held, a slow plan), sent as a startup
    // parameter, which a transaction-mode pooler refuses (PgBouncer 1.18): behind one, the bound
    // is the pooler's server connections' (its connect_query, or the role's)...
    ...(config.databasePooler === 'transaction' ? {} : { statement_timeout: statementMs }),
    // ...and the client stops waiting a little later, for a server that answers nothing
    query_timeout: statementMs + QUERY_TIMEOUT_MARGIN_MS,
    Client: BoundedClient,
    keepAlive: true,
    ...(target.idleTimeoutMillis === undefined ? {} : { idleTimeoutMillis: target.idleTimeoutMillis }),
  });
  // an idle pooled connection losing its server is no failure of a request: the pool replaces it
  pool.on('error', () => undefined);
  return pool;
}

const READ_TIMEOUT = 'Query read timeout';

// A connection whose statement outlived the client's bound is closed at once: whatever is sent on
// it next (the ROLLBACK Prisma sends for a failed transaction) would wait behind that statement for
// as long again, and the server may still run it when it answers again.
class BoundedClient extends pg.Client {
  constructor(config?: pg.ClientConfig) {
    super(config);
    // the connection's end (ours, or the server's) fails its statements and marks it unusable,
    // and the pool drops it on release: no more to do with the event a checked-out client emits
    this.on('error', () => undefined);
  }

  dropOnReadTimeout(error: unknown): void {
    if (error instanceof Error && error.message === READ_TIMEOUT) {
      (this as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    }
  }
}

// pg.Client's query (looked up at each call), its read timeout closing the connection; a method of
// the prototype, typed loosely: pg's overloads take a callback or answer a promise
Object.defineProperty(BoundedClient.prototype, 'query', {
  value: function query(this: BoundedClient, ...args: unknown[]): unknown {
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (error: unknown, result: unknown) => {
        this.dropOnReadTimeout(error);
        (callback as (error: unknown, result: unknown) => void)(error, result);
      };
    }
    const result = (pg.Client.prototype.query as (...args: unknown[]) => unknown).apply(this, args);
    return result instanceof Promise
      ? result.catch((error: unknown) => {
          this.dropOnReadTimeout(error);
          throw error;
        })
      : result;
  },
});

export function externalConnection(config: AppConfig): DatabaseConnection {
  if (config.databaseUrl === undefined) {
    throw new Error('DATABASE_URL is unset: DatabaseModule starts the embedded database');
  }
  return { url: config.databaseUrl, poolSize: config.databasePoolSize };
}
