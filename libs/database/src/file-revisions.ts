// A completed version becomes its file's content: the SQL shared by the completion of a pending
// version (CompletionRepository.markCompleted) and a flash-upload version (created completed), so
// both record it in the same statement as the version's own status.
import { type EventTrace, insertRevisionCompletedEvent } from './file-events.js';
import { raw, sql, type SqlFragment } from './sql.js';

// A version row's revision_version as it completes: its file's, plus one. Only the version pending
// (at most one per file) completes, so nothing else moves the file's count meanwhile.
export function nextRevisionVersion(fileId: SqlFragment): SqlFragment {
  return sql`(SELECT p.revision_version + 1 FROM files p WHERE p.id = ${fileId})`;
}

// CTEs (each starting with a comma) that, for each completed version row in `from` (a CTE of files
// rows as written), replace its file's content with the version's (digest, length, stored object,
// revisionId, revisionVersion, keep policy, how it was verified), record the content replaced as a
// history version (file_versions), and write the file.revision.completed event. Rows of `from`
// that are no version change nothing.
export function replaceFileContent(from: string, trace: EventTrace): SqlFragment {
  const version = raw(from);
  return sql`,
    replaced_content AS (
      SELECT p.id, p.revision_id, p.revision_version, p.actual_sha256, p.length, p.storage_key, p.keep_policy,
             p.completed_at
        FROM files p JOIN ${version} v ON p.id = v.revision_of
       WHERE v.status = 'COMPLETED' AND p.status = 'COMPLETED'
         FOR UPDATE OF p
    ), history AS (
      INSERT INTO file_versions (revision_id, file_id, revision_version, sha256, length, storage_key, keep_policy,
                                 completed_at)
      SELECT revision_id, id, revision_version, actual_sha256, length, storage_key, keep_policy, completed_at
        FROM replaced_content
    ), revised AS (
      UPDATE files f
         SET actual_sha256 = v.actual_sha256, length = v.length, storage_key = v.storage_key,
             revision_id = v.revision_id, revision_version = v.revision_version, keep_policy = v.keep_policy,
             verified_by = v.verified_by, completed_at = v.completed_at, pre_hash = v.pre_hash,
             mime_type = COALESCE(v.mime_type, f.mime_type),
             client_created_at = COALESCE(v.client_created_at, f.client_created_at), updated_at = now()
        FROM ${version} v, replaced_content r
       WHERE f.id = r.id AND v.revision_of = r.id
      RETURNING f.id, f.container_id, f.revision_id, f.revision_version, f.actual_sha256, f.length, f.storage_key,
                f.keep_policy, r.revision_id AS replaced_revision_id
    ), revision_announced AS (${insertRevisionCompletedEvent('revised', trace)})`;
}
