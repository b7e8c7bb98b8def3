// What lets an interrupted upload go on: a small JSON file beside the uploaded file
// (`<file>.koodrive-upload.json`) naming the task (server, shared folder, fileId, the file it is a
// new version of), the file as it
// was hashed (size, mtime), the plan (part size, sha256, the SHA-256 state before each part) and the
// parts already uploaded. Written whole to a temporary file and renamed over the old one, so a reader
// never sees half a state. Anything unreadable, foreign or stale is ignored: the upload starts over.
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { MAX_PARTS } from '@koodrive/limits';
import { type ResumeStore, splitIntoParts, type UploadState } from '@koodrive/upload-client';

const STATE_SUFFIX = '.koodrive-upload.json';
const KIND = 'koodrive-upload-state';
const VERSION = 1;

export interface ResumeState extends UploadState {
  readonly url: string;
  // the shared folder the task was created in (it is reached only through it); null: none
  readonly shareFolder: string | null;
  // the file the task uploads a new version of; null: a new file
  readonly revisionOf: string | null;
  readonly size: number;
  readonly mtimeMs: number;
  readonly sha256: string;
  // every part's starting state (the 8 words of its hashCtx)
  readonly states: readonly (readonly number[])[];
}

// How the file is now (and where it goes), to compare with the state's.
export interface FileIdentity {
  readonly url: string;
  readonly shareFolder: string | null;
  readonly revisionOf: string | null;
  readonly size: number;
  readonly mtimeMs: number;
}

export type StateReading =
  | { readonly kind: 'none' }
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'found'; readonly state: ResumeState };

export function statePathFor(file: string): string {
  return `${file}${STATE_SUFFIX}`;
}

// The state file as stored: each part's starting state as 64 hex digits (the 8 words of its
// hashCtx), its offset and size following from the size and part size. `shareFolder` and
// `revisionOf` are left out for none, as the states written before them were.
interface StoredState {
  kind: typeof KIND;
  version: typeof VERSION;
  url: string;
  shareFolder?: string;
  revisionOf?: string;
  fileId: string;
  fileName: string;
  size: number;
  mtimeMs: number;
  partSize: number;
  sha256: string;
  states: string[];
  done: number[];
}

export function serializeState(state: ResumeState): string {
  const stored: StoredState = {
    kind: KIND,
    version: VERSION,
    url: state.url,
    ...(state.shareFolder === null ? {} : { shareFolder: state.shareFolder }),
    ...(state.revisionOf === null ? {} : { revisionOf: state.revisionOf }),
    fileId: state.fileId,
    fileName: state.fileName,
    size: state.size,
    mtimeMs: state.mtimeMs,
    partSize: state.partSize,
    sha256: state.sha256,
    states: state.states.map((words) => words.map((word) => word.toString(16).padStart(8, '0')).join('')),
    done: [...state.done].sort((a, b) => a - b),
  };
  return `${JSON.stringify(stored)}\n`;
}

// The state in `text`, or why it cannot be used (not JSON, another program's file, a newer
// version, fields missing or inconsistent).
export function parseState(text: string): ResumeState | string {
  const stored = storedStateIn(text);
  if (typeof stored === 'string') {
    return stored;
  }
  const {
    url,
    shareFolder = null,
    revisionOf = null,
    fileId,
    fileName,
    size,
    mtimeMs,
    partSize,
    sha256,
    states,
    done,
  } = stored;
  if (typeof url !== 'string' || typeof fileId !== 'string' || fileId === '' || typeof fileName !== 'string') {
    return 'url, fileId or fileName missing';
  }
  if (shareFolder !== null && typeof shareFolder !== 'string') {
    return 'shareFolder is not a string';
  }
  if (revisionOf !== null && typeof revisionOf !== 'string') {
    return 'revisionOf is not a string';
  }
  if (!isWhole(size) || !isWhole(partSize) || partSize === 0 || typeof mtimeMs !== 'number') {
    return 'size, mtimeMs or partSize missing';
  }
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) {
    return 'sha256 missing';
  }
  if (Math.ceil(size / partSize) > MAX_PARTS) {
    return `more than ${MAX_PARTS} parts`;
  }
  const words = statesOf(size, partSize, states);
  if (typeof words === 'string') {
    return words;
  }
  if (!Array.isArray(done) || !done.every((n) => isWhole(n) && n >= 1 && n <= words.length)) {
    return 'done parts missing or out of range';
  }
  return {
    url,
    shareFolder,
    revisionOf,
    fileId,
    fileName,
    size,
    mtimeMs,
    partSize,
    sha256,
    states: words,
    done: [...new Set(done as number[])],
  };
}

// The fields of a state file this client writes, each still to be checked; or why it is not one.
function storedStateIn(text: string): Partial<Record<keyof StoredState, unknown>> | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'not a JSON object';
  }
  const stored = value as Partial<Record<keyof StoredState, unknown>>;
  if (stored.kind !== KIND) {
    return 'not a koodrive upload state';
  }
  if (stored.version !== VERSION) {
    return `state version ${String(stored.version)}, this client reads ${VERSION}`;
  }
  return stored;
}

// The starting state of each part of a file of `size` in parts of `partSize`, from `states` (as
// serializeState writes them); or why they cannot be.
function statesOf(size: number, partSize: number, states: unknown): number[][] | string {
  const parts = splitIntoParts(size, partSize);
  if (!Array.isArray(states) || states.length !== parts.length) {
    return `${parts.length} part states expected`;
  }
  const words: number[][] = [];
  for (const [index, part] of parts.entries()) {
    const hex: unknown = states[index];
    if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/.test(hex)) {
      return `part ${part.partNumber}'s state is not 64 hex digits`;
    }
    words.push(Array.from({ length: 8 }, (_, word) => parseInt(hex.slice(word * 8, word * 8 + 8), 16)));
  }
  return words;
}

// The state beside the file, if it is one for this file as it is now, on this server.
export async function readState(path: string, now: FileIdentity): Promise<StateReading> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { kind: 'none' };
    }
    return { kind: 'ignored', reason: `unreadable (${(error as Error).message})` };
  }
  const state = parseState(text);
  if (typeof state === 'string') {
    return { kind: 'ignored', reason: state };
  }
  if (state.url !== now.url) {
    return { kind: 'ignored', reason: `it is for another server (${state.url})` };
  }
  if (state.shareFolder !== now.shareFolder) {
    const where = state.shareFolder === null ? 'outside any shared folder' : `into shared folder ${state.shareFolder}`;
    return { kind: 'ignored', reason: `it is for an upload ${where}` };
  }
  if (state.revisionOf !== now.revisionOf) {
    const what = state.revisionOf === null ? 'a new file' : `a new version of ${state.revisionOf}`;
    return { kind: 'ignored', reason: `it is for an upload of ${what}` };
  }
  if (state.size !== now.size || state.mtimeMs !== now.mtimeMs) {
    return { kind: 'ignored', reason: 'the file changed since (size or modification time)' };
  }
  return { kind: 'found', state };
}

// The state file as the core's ResumeStore: the state found beside the file (if any), a new task's
// state once created, each part done written soon after it is (one write at a time, changes made
// during a write going into the next one), removed once complete answered.
export class StateFile implements ResumeStore {
  private state: ResumeState | undefined;
  private done = new Set<number>();
  private writing: Promise<void> | undefined;
  private dirty = false;
  // the last write's failure, until a later write succeeds
  private failure: Error | undefined;

  constructor(
    readonly path: string,
    // where the upload goes and the file as it is now, for a new task's state
    private readonly identity: FileIdentity,
    found?: ResumeState,
  ) {
    this.state = found;
    this.done = new Set(found?.done);
  }

  // whether a task's state is on record (none yet, or removed: the upload completed, or is given up)
  get kept(): boolean {
    return this.state !== undefined;
  }

  get doneParts(): ReadonlySet<number> {
    return this.done;
  }

  load(): Promise<ResumeState | undefined> {
    return Promise.resolve(this.state);
  }

  async save(state: UploadState): Promise<void> {
    if (state.sha256 === undefined || state.states === undefined) {
      throw new TypeError('the state file keeps hashed uploads only');
    }
    this.state = { ...this.identity, ...state, sha256: state.sha256, states: state.states };
    this.done = new Set(state.done);
    await this.flush();
  }

  partDone(partNumber: number): void {
    this.done.add(partNumber);
    this.schedule();
  }

  // Every change so far on disk; throws if a write failed.
  async flush(): Promise<void> {
    this.schedule();
    while (this.writing !== undefined) {
      await this.writing;
    }
    if (this.failure !== undefined) {
      throw this.failure;
    }
  }

  async remove(): Promise<void> {
    this.state = undefined;
    while (this.writing !== undefined) {
      await this.writing;
    }
    await rm(this.path, { force: true });
  }

  private schedule(): void {
    if (this.state === undefined) {
      return;
    }
    this.dirty = true;
    this.writing ??= this.writeWhileDirty().finally(() => {
      this.writing = undefined;
    });
  }

  private async writeWhileDirty(): Promise<void> {
    while (this.dirty && this.state !== undefined) {
      this.dirty = false;
      try {
        await writeAtomically(this.path, serializeState({ ...this.state, done: [...this.done] }));
        this.failure = undefined;
      } catch (error) {
        this.failure = error instanceof Error ? error : new Error(String(error));
      }
    }
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, text, { mode: 0o600 });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function isWhole(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
