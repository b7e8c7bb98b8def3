// Progress kept in IndexedDB, so an upload cut off (a reload, a closed tab, a lost network) goes on
// where it stopped when the same file is picked again: the record is keyed by the file's name, size,
// lastModified and SHA-256, and holds the task's fileId, its part size and the parts already sent.
// It is written after every part, and removed once complete answers 0.

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
  readonly done: readonly number[];
  readonly updatedAt: number;
}

export function resumeKey(file: File, sha256: string): string {
  return JSON.stringify([file.name, file.size, file.lastModified, sha256]);
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

async function run<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const request = act(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request.result as T);
      transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB transaction failed'));
      transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

export async function readResume(key: string): Promise<ResumeRecord | undefined> {
  return run<ResumeRecord | undefined>('readonly', (store) => store.get(key));
}

export async function listResumes(): Promise<ResumeRecord[]> {
  return run<ResumeRecord[]>('readonly', (store) => store.getAll());
}

export async function writeResume(record: ResumeRecord): Promise<void> {
  await run<unknown>('readwrite', (store) => store.put(record));
}

export async function removeResume(key: string): Promise<void> {
  await run<unknown>('readwrite', (store) => store.delete(key));
}
