// What statements code sends to PostgreSQL, and the plans PostgreSQL makes of them: for the tests
// that show each background scan reads an index (EXPLAIN of the very text and values sent).
import pg from 'pg';

export interface SentStatement {
  readonly text: string;
  readonly values: readonly unknown[];
}

type Query = (...args: unknown[]) => unknown;

// The statements `run` sends through any pg client of this process (the repositories' pool, Prisma's
// driver adapter included), as text and values; BEGIN, COMMIT and ROLLBACK left out.
export async function statementsSentBy(run: () => Promise<unknown>): Promise<SentStatement[]> {
  const sent: SentStatement[] = [];
  const prototype = pg.Client.prototype as unknown as { query: Query };
  const original = prototype.query;
  prototype.query = function (this: pg.Client, ...args: unknown[]): unknown {
    const [first, second] = args;
    if (typeof first === 'string') {
      sent.push({ text: first, values: Array.isArray(second) ? second : [] });
    } else if (typeof first === 'object' && first !== null && 'text' in first) {
      const config = first as { text: string; values?: unknown[] };
      sent.push({ text: config.text, values: Array.isArray(second) ? second : (config.values ?? []) });
    }
    return original.apply(this, args);
  };
  try {
    await run();
  } finally {
    prototype.query = original;
  }
  return sent.filter(({ text }) => !/^\s*(BEGIN|COMMIT|ROLLBACK)\b/i.test(text));
}

export interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Relation Name'?: string;
  readonly 'Index Name'?: string;
  readonly Plans?: PlanNode[];
}

// Every node of the plan PostgreSQL makes of `statement` on `db`, the root first.
export async function planNodes(db: pg.Client, statement: SentStatement): Promise<PlanNode[]> {
  const { rows } = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${statement.text}`, [
    ...statement.values,
  ]);
  const nodesOf = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
  return nodesOf(rows[0]!['QUERY PLAN'][0].Plan);
}
