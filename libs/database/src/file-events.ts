// The events a file's changes announce, written to the outbox by the same statement as the change.
import { raw, sql, type SqlFragment } from './sql.js';

// Where an event came from: the W3C trace id of the operation and the client's X-Traceid.
export interface EventTrace {
  readonly traceId: string | undefined;
  readonly xTraceid: string | null;
}

export const FILE_COMPLETED = 'file.completed';
export const FILE_REVISION_COMPLETED = 'file.revision.completed';

// Inserts the file.completed event of each completed files row in `from` (a CTE's name), its
// payload taken from the row as written: what the consumers read (completedAt as ISO 8601, UTC).
export function insertCompletedEvent(from: string, trace: EventTrace): SqlFragment {
  return sql`
    INSERT INTO outbox_events (type, file_id, trace_id, x_traceid, payload)
    SELECT ${FILE_COMPLETED}, id, ${trace.traceId ?? null}, ${trace.xTraceid},
           jsonb_build_object(
             'fileId', id, 'ownerId', owner_id, 'containerId', container_id, 'parentFolder', parent_folder,
             'fileName', file_name, 'length', length, 'sha256', actual_sha256, 'storageKey', storage_key,
             'rapidUpload', rapid_upload,
             'completedAt', to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      FROM ${raw(from)}`;
}

// Inserts the file.revision.completed event of each files row in `from` (a CTE's name: the file as
// its new version made it, with `replaced_revision_id`, the revisionId of the content it replaced).
// The payload is API.md's list: nothing more.
export function insertRevisionCompletedEvent(from: string, trace: EventTrace): SqlFragment {
  return sql`
    INSERT INTO outbox_events (type, file_id, trace_id, x_traceid, payload)
    SELECT ${FILE_REVISION_COMPLETED}, id, ${trace.traceId ?? null}, ${trace.xTraceid},
           jsonb_build_object(
             'fileId', id, 'containerId', container_id, 'revisionId', revision_id,
             'revisionVersion', revision_version, 'sha256', actual_sha256, 'length', length,
             'storageKey', storage_key, 'keepPolicy', keep_policy, 'replacedRevisionId', replaced_revision_id)
      FROM ${raw(from)}`;
}
