// A files table as it looks after a long time in production, generated in SQL: almost every row
// terminal (completed, failed, expired with its upload freed), created over the past year, and a
// few per cent in flight (uploading, completing) with their part plans; completed and open files
// hold their folder names, completed ones their published file.completed event. Nothing in it is
// due: open uploads expire days ahead and leases run a day, so a background job finds no work in
// it; whoever loads it adds the work it wants to see done. Used by the background-scans spec
// (EXPLAIN of every scan) and the table-scale bench (bench/table-scale.ts).
import type pg from 'pg';

// Out of every 10,000 rows: status by range of (i mod 10,000).
const MIX = [
  { status: 'COMPLETED', upTo: 8_800 },
  { status: 'FAILED', upTo: 9_100 },
  { status: 'EXPIRED', upTo: 9_700 },
  { status: 'UPLOADING', upTo: 9_995 },
  { status: 'COMPLETING', upTo: 10_000 },
] as const;

// what the mix makes of `rows` rows, for reports
export function historyMix(rows: number): Record<(typeof MIX)[number]['status'], number> {
  const counts = { COMPLETED: 0, FAILED: 0, EXPIRED: 0, UPLOADING: 0, COMPLETING: 0 };
  let from = 0;
  for (const { status, upTo } of MIX) {
    const whole = Math.floor(rows / 10_000) * (upTo - from);
    const rest = Math.max(0, Math.min(rows % 10_000, upTo) - from);
    counts[status] = whole + rest;
    from = upTo;
  }
  return counts;
}

const STATUS_OF = `CASE ${MIX.map(({ status, upTo }) => `WHEN i % 10000 < ${upTo} THEN '${status}'`).join(' ')} END::file_status`;
const PARTS_PER_OPEN_FILE = 2;
const PART_SIZE = 16 * 1024 * 1024;

// Rows i in [from, to) of `total`, with their names, parts and events, in one statement.
function insertChunk(from: number, to: number, total: number): string {
  return `
    WITH file AS (
      INSERT INTO files (id, owner_id, container_id, parent_folder, file_name, length, declared_sha256,
                         actual_sha256, pre_hash, storage_key, upload_id, upload_token, rapid_upload, status, claim,
                         claim_expires_at, expected_sha256, combined_at, verified_by, result_code, result_detail,
                         expires_at, completed_at, created_at, updated_at)
      SELECT id, owner, container, 'root', 'history-' || i || '.bin', length,
             CASE WHEN i % 3 = 0 THEN digest END,
             CASE WHEN status = 'COMPLETED' THEN digest END,
             substr(digest, 3, 64),
             'files/' || container || '/' || id,
             CASE WHEN status = 'EXPIRED' THEN NULL ELSE 'history-upload-' || md5(id) END,
             md5(id || ':token'), false, status,
             CASE WHEN status IN ('UPLOADING', 'EXPIRED') THEN 0 ELSE 1 END,
             CASE WHEN status = 'COMPLETING' THEN now() + interval '1 day' END,
             CASE WHEN status IN ('COMPLETED', 'COMPLETING', 'FAILED') THEN digest END,
             CASE WHEN status IN ('COMPLETED', 'FAILED') THEN created + interval '40 seconds' END,
             CASE WHEN status = 'COMPLETED' THEN 'pipelined' END,
             CASE status WHEN 'FAILED' THEN 13000402 WHEN 'EXPIRED' THEN 13000401 END,
             CASE status WHEN 'FAILED' THEN 'the digest differs'
                         WHEN 'EXPIRED' THEN 'the upload expired before it was completed' END,
             CASE WHEN status IN ('UPLOADING', 'COMPLETING') THEN now() + (1 + i % 5) * interval '1 day'
                  ELSE created + interval '7 days' END,
             CASE WHEN status = 'COMPLETED' THEN created + interval '1 minute' END,
             created,
             CASE WHEN status = 'EXPIRED' THEN created + interval '7 days 5 minutes'
                  WHEN status IN ('UPLOADING', 'COMPLETING') THEN created
                  ELSE created + interval '1 minute' END
        FROM (SELECT i, 'Fi' || substr(md5(i || ':id'), 1, 31) AS id,
                     'u-history-' || (i % 100000) AS owner, 'c-history-' || (i % 100000) AS container,
                     md5(i || ':a') || md5(i || ':b') AS digest, 1024 + (i * 7919) % (256 * 1024 * 1024) AS length,
                     ${STATUS_OF} AS status,
                     -- terminal rows over the past year (older first), open ones within the last day
                     CASE WHEN i % 10000 < ${MIX[2].upTo}
                          THEN now() - interval '8 days' - (1 - i::float8 / ${total}) * interval '357 days'
                          ELSE now() - (i % 1440) * interval '1 minute' END AS created
                FROM generate_series(${from}::bigint, ${to - 1}) i) g
      RETURNING *
    ), entry AS (
      INSERT INTO folder_entries (container_id, parent_folder, file_name, file_id)
      SELECT container_id, parent_folder, file_name, id FROM file WHERE status IN ('COMPLETED', 'UPLOADING', 'COMPLETING')
    ), part AS (
      INSERT INTO file_parts (file_id, part_number, part_size, part_offset, requested_at, via_service_only)
      SELECT id, n, ${PART_SIZE}, (n - 1)::bigint * ${PART_SIZE}, created_at, false
        FROM file, generate_series(1, ${PARTS_PER_OPEN_FILE}) n
       WHERE status IN ('UPLOADING', 'COMPLETING')
    ), event AS (
      INSERT INTO outbox_events (type, file_id, payload, trace_id, x_traceid, created_at, published_at)
      SELECT 'file.completed', id,
             jsonb_build_object('fileId', id, 'ownerId', owner_id, 'containerId', container_id,
                                'parentFolder', parent_folder, 'fileName', file_name, 'length', length,
                                'sha256', actual_sha256, 'storageKey', storage_key, 'rapidUpload', rapid_upload,
                                'completedAt', to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
             substr(md5(id || ':trace'), 1, 32), 'history-' || substr(md5(id), 1, 16), completed_at,
             completed_at + interval '1 second'
        FROM file WHERE status = 'COMPLETED'
       ORDER BY completed_at
    )
    SELECT count(*) FROM file`;
}

// Loads `rows` files (and their names, parts and events) in chunks of `chunk` rows, a statement a
// chunk, calling `progress` after each; then VACUUM ANALYZE, as autovacuum would have. With
// `bulk`, the secondary indexes of files and outbox_events are dropped first and built again
// after, from their own definitions (a sorted build instead of millions of random inserts: the
// usual way to bulk-load; the indexes come out compact, as after a REINDEX), and the foreign keys'
// triggers are off while loading (session_replication_role, a superuser's: the rows are consistent
// by construction).
export async function loadFileHistory(
  client: pg.ClientBase,
  rows: number,
  {
    chunk = 500_000,
    bulk = false,
    progress,
  }: { chunk?: number; bulk?: boolean; progress?: (loaded: number) => void } = {},
): Promise<void> {
  const { rows: indexes } = bulk
    ? await client.query<{ name: string; definition: string }>(
        `SELECT quote_ident(i.relname) AS name, pg_get_indexdef(i.oid) AS definition
           FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
          WHERE t.relname IN ('files', 'outbox_events') AND NOT x.indisprimary AND NOT x.indisunique`,
      )
    : { rows: [] };
  for (const { name } of indexes) {
    await client.query(`DROP INDEX ${name}`);
  }
  if (bulk) {
    await client.query('SET session_replication_role = replica');
  }
  for (let from = 0; from < rows; from += chunk) {
    const to = Math.min(rows, from + chunk);
    await client.query(insertChunk(from, to, rows));
    progress?.(to);
  }
  if (bulk) {
    await client.query('RESET session_replication_role');
    await client.query(`SET maintenance_work_mem = '512MB'`);
    for (const { definition } of indexes) {
      await client.query(definition);
    }
    await client.query('RESET maintenance_work_mem');
  }
  await client.query('VACUUM ANALYZE files, folder_entries, file_parts, outbox_events');
}
