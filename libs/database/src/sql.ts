// SQL on the hot paths (create, uploadUrl, part PUTs, complete), sent by `pg` on the pool the
// Prisma client shares: each request's state change is one statement, built with `sql` (values
// always as parameters, never in the text) and typed by the row interfaces beside each query.
// Prisma keeps the schema, the migrations and the background jobs' queries.
import type pg from 'pg';
import { dependencyDuration } from '@koodrive/metrics';
import { isUnavailable } from './database-errors.js';
import { DependencyUnavailableError } from '@koodrive/errors';

export class SqlFragment {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}
}

// A statement or a piece of one; a fragment among the values is inlined with its own values.
export function sql(strings: TemplateStringsArray, ...values: unknown[]): SqlFragment {
  return new SqlFragment(strings, values);
}

// Text taken as it is: for the repositories' own constant SQL (column lists, CTE names), never a value.
export function raw(text: string): SqlFragment {
  return new SqlFragment([text], []);
}

// The fragment as pg takes it: text with $1, $2... and the values in that order.
export function compile(fragment: SqlFragment): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  let text = '';
  const walk = (part: SqlFragment): void => {
    part.strings.forEach((chunk, i) => {
      text += chunk;
      if (i < part.values.length) {
        const value = part.values[i];
        if (value instanceof SqlFragment) {
          walk(value);
        } else {
          values.push(value);
          text += `$${values.length}`;
        }
      }
    });
  };
  walk(fragment);
  return { text, values };
}

// PostgreSQL's unique_violation
const UNIQUE_VIOLATION = '23505';

export function isSqlUniqueViolation(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === UNIQUE_VIOLATION;
}

export class SqlClient {
  constructor(private readonly pool: pg.Pool) {}

  // The statement's rows; timed as a dependency call by its verb; a lost or unreachable server,
  // or a statement past its bound, is DependencyUnavailableError.
  async query<R extends object>(statement: SqlFragment): Promise<R[]> {
    return run(this.pool, statement);
  }

  // `work` in one transaction that first takes these advisory locks (held to its end), so that
  // its statements, each with a snapshot taken after the locks, see every change committed under
  // them: a check and the write it guards are one step for all who take the same lock. BEGIN and
  // the locks go in one round trip. Any error rolls back; a connection whose state is unknown (a
  // statement cut off by its bound) is dropped rather than pooled.
  async transaction<T>(locks: readonly bigint[], work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(error);
    }
    let broken: Error | undefined;
    try {
      const taken = locks.map((key) => `pg_advisory_xact_lock(${BigInt.asIntN(64, key)})`);
      await run(client, raw(taken.length === 0 ? 'BEGIN' : `BEGIN; SELECT ${taken.join(', ')}`));
      const result = await work({ query: (statement) => run(client, statement) });
      await run(client, raw('COMMIT'));
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }
}

export interface SqlTransaction {
  query<R extends object>(statement: SqlFragment): Promise<R[]>;
}

async function run<R extends object>(target: pg.Pool | pg.PoolClient, statement: SqlFragment): Promise<R[]> {
  const { text, values } = compile(statement);
  const end = dependencyDuration.startTimer({ dependency: 'postgres', operation: verbOf(text) });
  try {
    const result = await target.query<R>(text, values);
    end({ outcome: 'ok' });
    // a simple query of several statements answers one result per statement: the last one's rows
    return Array.isArray(result) ? (result.at(-1) as pg.QueryResult<R>).rows : result.rows;
  } catch (error) {
    end({ outcome: 'error' });
    throw unavailable(error);
  }
}

function unavailable(error: unknown): unknown {
  return isUnavailable(error) ? new DependencyUnavailableError('database', error) : error;
}

function verbOf(text: string): string {
  return /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'OTHER';
}
