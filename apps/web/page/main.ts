// The upload page the service serves at GET /upload (outside production): a token field (also read
// from the address's fragment, #token=…), a file input and a drop zone, then one progress bar and
// one result line per file: its SHA-256 and fileId once complete answered 0, or the service's
// message (in the browser's language) when it refused.
import {
  browserLanguage,
  ApiError,
  listResumes,
  prepareUpload,
  upload,
  type UploadProgress,
  type UploadResult,
  type UploadVia,
} from '../src/index.js';
import { wordsFor } from './i18n.js';

const language = browserLanguage();
const words = wordsFor(language);
const fragment = new URLSearchParams(location.hash.slice(1));

const tokenInput = element<HTMLInputElement>('token');
const viaSelect = element<HTMLSelectElement>('via');
const hashFirstBox = element<HTMLInputElement>('hash-first');
const fileInput = element<HTMLInputElement>('files');
const dropZone = element<HTMLElement>('drop');
const list = element<HTMLUListElement>('uploads');
const notice = element<HTMLParagraphElement>('notice');

// one file at a time, in the order given
let queue = Promise.resolve();

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) {
    throw new Error(`the page has no #${id}`);
  }
  return found as T;
}

function localize(): void {
  document.documentElement.lang = language;
  document.title = words.title;
  for (const node of document.querySelectorAll<HTMLElement>('[data-words]')) {
    const text = words[node.dataset.words as keyof typeof words];
    if (typeof text === 'string') {
      node.textContent = text;
    }
  }
}

// #token=…&via=service|s3&hashFirst=1&parallel=4&partSize=8MiB&hashFirstUpTo=64MiB
function applyFragment(): void {
  tokenInput.value = fragment.get('token') ?? '';
  hashFirstBox.checked = fragment.get('hashFirst') === '1';
  const via = fragment.get('via');
  if (via === 'service' || via === 's3') {
    viaSelect.value = via;
  }
}

function sizeOf(text: string | null): number | undefined {
  const match = text === null ? null : /^(\d+)(MiB)?$/i.exec(text.trim());
  if (match === null) {
    return undefined;
  }
  return Number(match[1]) * (match[2] === undefined ? 1 : 1024 * 1024);
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) {
    return `${(bytes / 1024).toFixed(1)} KiB`;
  }
  return bytes < 1024 ** 3 ? `${(bytes / 1024 ** 2).toFixed(1)} MiB` : `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

function formatRate(rate: number | null): string {
  return rate === null ? '' : ` · ${(rate / 1e6).toFixed(1)} MB/s`;
}

function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) {
    return '';
  }
  const whole = Math.ceil(seconds);
  return words.left(whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${whole % 60} s`);
}

interface Row {
  readonly item: HTMLLIElement;
  readonly bar: HTMLElement;
  readonly fill: HTMLElement;
  readonly status: HTMLElement;
  readonly result: HTMLElement;
  readonly cancel: HTMLButtonElement;
}

function addRow(file: File): Row {
  const item = document.createElement('li');
  item.dataset.state = 'queued';
  const head = document.createElement('div');
  head.className = 'upload-head';
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = `${file.name} (${formatBytes(file.size)})`;
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.textContent = words.cancelLabel;
  cancel.setAttribute('aria-label', words.cancel(file.name));
  head.append(name, cancel);
  const bar = document.createElement('div');
  bar.className = 'bar';
  bar.setAttribute('role', 'progressbar');
  bar.setAttribute('aria-label', words.progress(file.name));
  bar.setAttribute('aria-valuemin', '0');
  bar.setAttribute('aria-valuemax', '100');
  bar.setAttribute('aria-valuenow', '0');
  const fill = document.createElement('div');
  bar.append(fill);
  const status = document.createElement('p');
  status.className = 'status';
  status.textContent = words.queued;
  const result = document.createElement('p');
  result.className = 'result';
  result.setAttribute('aria-live', 'polite');
  item.append(head, bar, status, result);
  list.append(item);
  return { item, bar, fill, status, result, cancel };
}

function describeProgress(progress: UploadProgress): string {
  switch (progress.phase) {
    case 'hashing':
      return words.hashing(
        progress.size === 0 ? 100 : Math.floor((progress.bytesHashed * 100) / progress.size),
        formatRate(progress.rate),
      );
    case 'uploading': {
      const parts =
        words.parts(progress.partsDone, progress.partsTotal) +
        (progress.resumedParts > 0 ? words.resumed(progress.resumedParts) : '');
      return words.sending(
        formatBytes(progress.bytesSent),
        formatBytes(progress.size),
        formatRate(progress.rate),
        formatEta(progress.etaSeconds),
        parts,
      );
    }
    case 'completing':
      return words.completing;
    case 'done':
      return words.done;
  }
}

function showProgress(row: Row, progress: UploadProgress): void {
  row.item.dataset.state = progress.phase;
  row.item.dataset.partsDone = String(progress.partsDone);
  row.bar.setAttribute('aria-valuenow', String(progress.percent));
  const text = describeProgress(progress);
  row.bar.setAttribute('aria-valuetext', `${progress.percent} % · ${text}`);
  row.fill.style.width = `${progress.percent}%`;
  row.status.textContent = text;
}

function showResult(row: Row, result: UploadResult): void {
  row.item.dataset.state = 'done';
  row.item.dataset.sha256 = result.sha256;
  row.item.dataset.fileId = result.fileId;
  row.item.dataset.uploadedParts = String(result.uploadedParts);
  row.item.dataset.resumedParts = String(result.resumedParts);
  const digest = document.createElement('code');
  digest.className = 'sha256';
  digest.textContent = result.sha256;
  const fileId = document.createElement('code');
  fileId.className = 'file-id';
  fileId.textContent = result.fileId;
  row.result.replaceChildren('SHA-256 ', digest, ' · fileId ', fileId);
  if (result.rapidUpload) {
    row.status.textContent = words.rapid;
  }
}

function showFailure(row: Row, error: unknown, cancelled: boolean): void {
  row.item.dataset.state = cancelled ? 'cancelled' : 'failed';
  row.result.classList.toggle('failed', !cancelled);
  row.status.textContent = cancelled ? words.cancelled : words.failed;
  if (cancelled) {
    return;
  }
  if (error instanceof ApiError) {
    row.item.dataset.code = String(error.code);
    const trace = error.traceId === null ? '' : ` (X-Traceid ${error.traceId})`;
    row.result.textContent = `${words.error} ${error.code}: ${error.apiMessage}${trace}`;
  } else {
    row.result.textContent = `${words.error}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

async function send(file: File, row: Row, abort: AbortController): Promise<void> {
  try {
    const result = await upload(file, {
      token: tokenInput.value,
      uploadVia: (viaSelect.value || undefined) as UploadVia | undefined,
      parallel: Number(fragment.get('parallel') ?? 4),
      partSize: sizeOf(fragment.get('partSize')),
      hashFirstUpTo: hashFirstBox.checked ? Infinity : sizeOf(fragment.get('hashFirstUpTo')),
      language,
      signal: abort.signal,
      onProgress: (progress) => showProgress(row, progress),
    });
    showResult(row, result);
  } catch (error) {
    showFailure(row, error, abort.signal.aborted);
  } finally {
    row.cancel.disabled = true;
    void showUnfinished();
  }
}

function enqueue(files: Iterable<File>): void {
  if (tokenInput.value.trim() === '') {
    notice.textContent = words.noToken;
    notice.hidden = false;
    tokenInput.focus();
    return;
  }
  notice.hidden = true;
  for (const file of files) {
    const row = addRow(file);
    const abort = new AbortController();
    row.cancel.addEventListener('click', () => abort.abort(new DOMException('cancelled', 'AbortError')));
    queue = queue.then(() => (abort.signal.aborted ? showFailure(row, null, true) : send(file, row, abort)));
  }
}

// uploads an earlier visit left unfinished, for this service
async function showUnfinished(): Promise<void> {
  const records = (await listResumes()).filter((record) => record.url === location.origin);
  const section = element<HTMLElement>('unfinished-section');
  section.hidden = records.length === 0;
  element<HTMLUListElement>('unfinished').replaceChildren(
    ...records.map((record) => {
      const item = document.createElement('li');
      item.textContent = words.unfinishedItem(record.fileName, record.done.length, record.parts);
      return item;
    }),
  );
}

function listen(): void {
  fileInput.addEventListener('change', () => {
    enqueue(fileInput.files ?? []);
    // the same file may be picked again (to resume it)
    fileInput.value = '';
  });
  dropZone.addEventListener('dragover', (event) => {
    event.preventDefault();
    dropZone.classList.add('over');
  });
  dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    dropZone.classList.remove('over');
    enqueue(event.dataTransfer?.files ?? []);
  });
  // a file dropped beside the zone is not opened in place of the page
  for (const type of ['dragover', 'drop']) {
    window.addEventListener(type, (event) => event.preventDefault());
  }
}

localize();
applyFragment();
listen();
prepareUpload();
void showUnfinished();
