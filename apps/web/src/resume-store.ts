// Progress kept in IndexedDB, so an upload cut off (a reload, a closed tab, a lost network) goes on
// where it stopped when the same file is picked again: the record is keyed by the file's name, size
// and lastModified, and holds the task's fileId, its part size, the file's SHA-256 when it was hashed
// first, and the parts already sent. Written at create and after every part, removed once complete
// answers 0. The file is hashed again when it is picked again (the core checks the digest).
import type { ResumeStore, UploadState } from '@koodrive/upload-client';

const DB_NAME = 'koodrive-upload';
const STORE = 'uploads';

export interface ResumeRecord {
  readonly key: string;
  // the service it belongs to, and where its parts went
  readonly url: string;
  readonly uploadVia: string;
  readonly fileId: string;
  readonly fileName: string;
  readonly size: number;
  readonly partSize: number;
  readonly parts: number;
  readonly sha256?: string;
  readonly done: readonly number[];
  readonly updatedAt: number;
}

export function resumeKey(file: File): string {
  return JSON.stringify([file.name, file.size, file.lastModified]);
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(STORE, { keyPath: 'key' });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB would not open'));
  });
}

function transact<T>(
  db: IDBDatabase,
  mode: IDBTransactionMode,
  act: (store: IDBObjectStore) => IDBRequest,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const transaction = db.transaction(STORE, mode);
    const request = act(transaction.objectStore(STORE));
    transaction.oncomplete = () => resolve(request.result as T);
    transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB transaction failed'));
    transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction aborted'));
  });
}

async function run<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open();
  try {
    return await transact<T>(db, mode, act);
  } finally {
    db.close();
  }
}

export async function listResumes(): Promise<ResumeRecord[]> {
  return run<ResumeRecord[]>('readonly', (store) => store.getAll());
}

export async function removeResume(key: string): Promise<void> {
  await run<unknown>('readwrite', (store) => store.delete(key));
}

// What the record of a file must match to be gone on with: the service and the plan.
export interface ResumeIdentity {
  readonly key: string;
  // the name the page shows it by (the file's own; the service may have stored it under another)
  readonly fileName: string;
  readonly url: string;
  readonly uploadVia: string;
  readonly size: number;
  readonly partSize: number;
  readonly parts: number;
}

// The records as the core's ResumeStore, for one file, on one connection: a part done is queued
// (the sending goes on meanwhile), one write at a time, each of the latest state; flush() waits
// for them all.
export class IndexedDbResumeStore implements ResumeStore {
  private record: ResumeRecord | undefined;
  private saving: Promise<void> = Promise.resolve();
  private db: Promise<IDBDatabase> | undefined;

  constructor(private readonly identity: ResumeIdentity) {}

  async load(): Promise<UploadState | undefined> {
    const record = await this.run<ResumeRecord | undefined>('readonly', (store) => store.get(this.identity.key));
    const { url, partSize, parts } = this.identity;
    if (record === undefined || record.url !== url || record.partSize !== partSize || record.parts !== parts) {
      return undefined;
    }
    this.record = record;
    const { fileId, fileName, sha256, done } = record;
    return { fileId, fileName, partSize, ...(sha256 === undefined ? {} : { sha256 }), done };
  }

  save(state: UploadState): Promise<void> {
    const { key, url, uploadVia, fileName, size, parts } = this.identity;
    const { fileId, partSize, sha256, done } = state;
    return this.write({ key, url, uploadVia, fileId, fileName, size, partSize, parts, sha256, done, updatedAt: 0 });
  }

  partDone(partNumber: number): void {
    const record = this.record;
    if (record !== undefined) {
      // a failed write is thrown by flush()
      this.write({ ...record, done: [...record.done, partNumber] }).catch(() => undefined);
    }
  }

  flush(): Promise<void> {
    return this.saving;
  }

  async remove(): Promise<void> {
    this.record = undefined;
    await this.saving.catch(() => undefined);
    await this.run<unknown>('readwrite', (store) => store.delete(this.identity.key));
    const db = this.db;
    this.db = undefined;
    (await db)?.close();
  }

  private write(record: ResumeRecord): Promise<void> {
    this.record = { ...record, updatedAt: Date.now() };
    const latest = this.record;
    this.saving = this.saving.then(() =>
      this.run<unknown>('readwrite', (store) => store.put(latest)).then(() => undefined),
    );
    return this.saving;
  }

  private async run<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest): Promise<T> {
    this.db ??= open();
    return transact<T>(await this.db, mode, act);
  }
}
