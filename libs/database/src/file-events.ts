// The events a file's changes announce, written to the outbox in the same transaction as the change.
import type { File as FileRow } from './generated/prisma/client.js';

// Where an event came from: the W3C trace id of the operation and the client's X-Traceid.
export interface EventTrace {
  readonly traceId: string | undefined;
  readonly xTraceid: string | null;
}

export const FILE_COMPLETED = 'file.completed';

export function fileCompletedEvent(row: FileRow, trace: EventTrace) {
  return {
    type: FILE_COMPLETED,
    fileId: row.id,
    traceId: trace.traceId ?? null,
    xTraceid: trace.xTraceid,
    payload: {
      fileId: row.id,
      ownerId: row.ownerId,
      containerId: row.containerId,
      parentFolder: row.parentFolder,
      fileName: row.fileName,
      length: Number(row.length),
      sha256: row.actualSha256,
      storageKey: row.storageKey,
      rapidUpload: row.rapidUpload,
      completedAt: row.completedAt?.toISOString() ?? null,
    },
  };
}
