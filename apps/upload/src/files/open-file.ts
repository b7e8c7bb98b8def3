import type { UploadFile } from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';

// The file as an open upload task of its owner: unknown, someone else's or expired is 13000401
// (the same answer, so ids can't be probed); a file past uploading is 13000403.
export function openFileForOwner(file: UploadFile | null): UploadFile {
  if (file === null || file.status === 'EXPIRED' || (file.status === 'UPLOADING' && file.expiresAt <= new Date())) {
    throw ApiException.taskNotFound();
  }
  if (file.status !== 'UPLOADING') {
    throw new ApiException(ApiCode.StatusChangeFailed, { detail: `the file is ${file.status.toLowerCase()}` });
  }
  return file;
}
