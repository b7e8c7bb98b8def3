// The repository's view of a file: plain values, no Prisma types.

export type FileStatus = 'UPLOADING' | 'COMPLETING' | 'COMPLETED' | 'FAILED' | 'EXPIRED';

export interface UploadFile {
  readonly id: string;
  readonly ownerId: string;
  readonly containerId: string;
  readonly parentFolder: string;
  readonly fileName: string;
  readonly length: number;
  readonly declaredSha256: string | null;
  readonly actualSha256: string | null;
  readonly storageKey: string;
  readonly uploadId: string | null;
  readonly uploadToken: string;
  readonly rapidUpload: boolean;
  // the shared folder the file was created in (null: the owner's own space)
  readonly shareFolderId: string | null;
  readonly status: FileStatus;
  readonly claim: number;
  readonly claimExpiresAt: Date | null;
  // X-Traceid of the complete request that started the current completion
  readonly claimTraceid: string | null;
  // the digest the current completion must reach (null: record whatever the file hashes to)
  readonly expectedSha256: string | null;
  readonly combinedAt: Date | null;
  // the digest the parts' hash chain proved at combine time (null: the object must be read back)
  readonly chainSha256: string | null;
  readonly resultCode: number | null;
  readonly resultDetail: string | null;
  readonly expiresAt: Date;
  readonly completedAt: Date | null;
  // a version of this file (createRevision); null: a file
  readonly revisionOf: string | null;
  // KooDrive's revisionId of the row's content (null: a file from before versions, not yet given one)
  readonly revisionId: string | null;
  // the file's completed versions; a version row's number once completed
  readonly revisionVersion: number;
  readonly keepPolicy: number;
}

export interface NewUploadFile {
  readonly id: string;
  readonly ownerId: string;
  readonly containerId: string;
  readonly parentFolder: string;
  readonly fileName: string;
  readonly length: number;
  readonly declaredSha256: string | undefined;
  readonly preHash?: string | undefined;
  readonly shareFolderId?: string | undefined;
  readonly fileType: string | undefined;
  readonly mimeType: string | undefined;
  readonly description: string | undefined;
  readonly clientCreatedAt: Date | undefined;
  readonly storageKey: string;
  readonly uploadId: string | null;
  readonly uploadToken: string;
  readonly expiresAt: Date;
  // KooDrive's revisionId of the content the row uploads
  readonly revisionId?: string | undefined;
  // a new version of this file: the row takes no name in a folder
  readonly revisionOf?: string | undefined;
  readonly keepPolicy?: number | undefined;
}

export interface PartPlan {
  readonly partNumber: number;
  readonly partSize: number;
  readonly partOffset: number | null;
  readonly hashCtx: string | null;
}

// What the service hashed of a part it uploaded itself (PUT to its own part URL): hashCtx strings
// (the base64 form) for the state before and after the bytes; the digest when the part ends the file.
export interface UploadedPartHash {
  readonly etag: string;
  readonly size: number;
  readonly hashedFrom: string;
  // null when the part does not end on a 64-byte block (only the file's last part may not)
  readonly hashedTo: string | null;
  // set when the part ends the file
  readonly sha256: string | null;
}

export interface PartRecord extends PartPlan {
  // every URL handed out for the part pointed at the service (none straight to storage)
  readonly viaServiceOnly: boolean;
  // what the latest PUT through the service hashed, once it stored the part; null before, while a
  // PUT runs, or when the latest PUT had no state to start from
  readonly uploaded: UploadedPartHash | null;
}

// A PUT through the service holding the part's put lease: `seq` names it in every later write.
export interface PartPut {
  readonly seq: number;
  readonly file: Pick<UploadFile, 'id' | 'ownerId' | 'storageKey' | 'length'> & { readonly uploadId: string };
  readonly part: PartPlan;
}
