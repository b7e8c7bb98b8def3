// The upload API on the wire (API.md): where each call goes and what it carries. One upload is
// create, the parts' URLs (uploadUrl), the PUTs, complete; a new version of a file goes the same
// way through its own create and complete (revision/createRevision, completeRevision) with its own
// create fields, so an upload names its pair of endpoints (UploadEndpoints) and its create fields.

export const API_PREFIX = '/koodrive/ose/v1';

// endpoints, as paths below API_PREFIX
export const UPLOAD_URL_ENDPOINT = 'files/multipart/uploadUrl';

// The two endpoints that open and close one kind of upload.
export interface UploadEndpoints {
  readonly create: string;
  readonly complete: string;
}

// a new file: create with fileName (autoRename, parentFolder...), complete
export const FILE_UPLOAD: UploadEndpoints = { create: 'files/create', complete: 'files/complete' };

// a new version of a completed file: createRevision with fileId and containerId (keepPolicy...),
// completeRevision; the parts' URLs from uploadUrl with the file's id, as for a file
export const REVISION_UPLOAD: UploadEndpoints = {
  create: 'revision/createRevision',
  complete: 'revision/completeRevision',
};

export function endpointPath(endpoint: string): string {
  return `${API_PREFIX}/${endpoint}`;
}

// The name an endpoint goes by in messages: `create`, `uploadUrl`, `complete`.
export function endpointName(endpoint: string): string {
  return endpoint.slice(endpoint.lastIndexOf('/') + 1);
}

// where a part's URL points (an extension of this service): storage itself, or the service
export type UploadVia = 's3' | 'service';

export interface PartRequest {
  readonly partNumber: number;
  readonly partSize: number;
  readonly partOffset: number;
  // parallel mode: the SHA-256 state words h0..h7 after the bytes before the part (KooDrive's
  // form; or this service's base64 form); none for part 1
  readonly hashCtx?: readonly number[] | string;
}

export interface PartUrl {
  readonly partNumber: number;
  readonly uploadUrl: string;
  // ms since the epoch
  readonly expiresAt: number;
  // as the service answered it (absent from services that do not say)
  readonly uploadVia?: UploadVia;
  readonly partSize?: number;
  readonly partOffset?: number;
}

export interface CreateRequest {
  readonly length: number;
  // the digest complete will check against, when known before the upload
  readonly sha256?: string;
  // the parts to have URLs for in the answer
  readonly multiParts?: readonly PartRequest[];
  // the endpoint's own fields: fileName, autoRename, parentFolder... for a new file;
  // fileId, containerId, keepPolicy... for a new version of one
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface CreateAnswer {
  readonly fileId: string;
  // as the service named the file (autoRename may have changed it); undefined when it did not say
  readonly fileName: string | undefined;
  readonly rapidUpload: boolean;
  readonly exist: boolean;
  readonly multiParts: readonly PartUrl[];
}

export interface CompleteAnswer {
  readonly sha256: string | null;
  readonly length: number | null;
}

// without a readable expiry, a part URL is taken to last the documented 3600 s
const DEFAULT_URL_TTL_MS = 3_600_000;

// The part URLs of a create or uploadUrl answer.
export function partUrlsOf(entries: unknown, endpoint: string, now = Date.now()): PartUrl[] {
  if (!Array.isArray(entries)) {
    throw new Error(`${endpoint} answered without multiParts`);
  }
  return entries.map((entry: Record<string, unknown>) => {
    if (typeof entry.partNumber !== 'number' || typeof entry.uploadUrl !== 'string') {
      throw new Error(`${endpoint} answered a part without partNumber or uploadUrl`);
    }
    const expiresAt = typeof entry.expiresAt === 'string' ? Date.parse(entry.expiresAt) : NaN;
    return {
      partNumber: entry.partNumber,
      uploadUrl: entry.uploadUrl,
      expiresAt: Number.isFinite(expiresAt) ? expiresAt : now + DEFAULT_URL_TTL_MS,
      ...(entry.uploadVia === 's3' || entry.uploadVia === 'service' ? { uploadVia: entry.uploadVia } : {}),
      ...(typeof entry.partSize === 'number' ? { partSize: entry.partSize } : {}),
      ...(typeof entry.partOffset === 'number' ? { partOffset: entry.partOffset } : {}),
    };
  });
}
