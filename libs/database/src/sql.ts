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
    const { text, values } = compile(statement);
    const end = dependencyDuration.startTimer({ dependency: 'postgres', operation: verbOf(text) });
    try {
      const result = await this.pool.query<R>(text, values);
      end({ outcome: 'ok' });
      return result.rows;
    } catch (error) {
      end({ outcome: 'error' });
      throw isUnavailable(error) ? new DependencyUnavailableError('database', error) : error;
    }
  }
}

function verbOf(text: string): string {
  return /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'OTHER';
}
