import type { Principal } from '@koodrive/auth';
import type { UploadFile } from '@koodrive/database';
import { ApiCode, ApiException } from '@koodrive/errors';

// The file as the caller may reach it: its creator's, in the space the request acts in (a file
// created in a shared folder only with that folder's header). Anything else is 13000401, the same
// answer as an unknown id, so ids can't be probed.
export function callersFile(principal: Principal, file: UploadFile | null): UploadFile {
  if (file === null || file.ownerId !== principal.userId || file.shareFolderId !== principal.shareFolderId) {
    throw ApiException.taskNotFound();
  }
  return file;
}

// The caller's file as an open upload task: expired is 13000401; a file past uploading is 13000403.
export function callersOpenFile(principal: Principal, found: UploadFile | null): UploadFile {
  const file = callersFile(principal, found);
  if (file.status === 'EXPIRED' || (file.status === 'UPLOADING' && file.expiresAt <= new Date())) {
    throw ApiException.taskNotFound();
  }
  if (file.status !== 'UPLOADING') {
    throw new ApiException(ApiCode.StatusChangeFailed, { detail: `the file is ${file.status.toLowerCase()}` });
  }
  return file;
}
