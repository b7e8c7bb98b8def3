// The page's part PUT: XMLHttpRequest of a slice of the File (the browser streams it from disk;
// nothing is read into memory here). Not fetch: fetch cannot tell how much of a request body has
// gone out. A PUT whose bytes stop moving for `stallMs` is abandoned (and retried by the core), so
// nothing waits without bound.
import { abortError, NetworkError, type PartTransport, type PutAnswer } from '@koodrive/upload-client';

const DEFAULT_STALL_MS = 60_000;

export function xhrTransport(stallMs = DEFAULT_STALL_MS): PartTransport<Blob> {
  return {
    put: (url, bytes, signal, onBytes) =>
      new Promise<PutAnswer>((resolve, reject) => {
        signal.throwIfAborted();
        const xhr = new XMLHttpRequest();
        let loaded = 0;
        let stall = setTimeout(() => xhr.abort(), stallMs);
        const onAbort = (): void => xhr.abort();
        const settle = (): void => {
          clearTimeout(stall);
          signal.removeEventListener('abort', onAbort);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        xhr.upload.onprogress = (event) => {
          clearTimeout(stall);
          stall = setTimeout(() => xhr.abort(), stallMs);
          onBytes(event.loaded - loaded);
          loaded = event.loaded;
        };
        xhr.onload = () => {
          settle();
          onBytes(bytes.size - loaded);
          resolve({ status: xhr.status, text: xhr.responseText });
        };
        xhr.onerror = () => {
          settle();
          reject(new NetworkError(`PUT to ${new URL(url).host}: network error`));
        };
        xhr.onabort = () => {
          settle();
          reject(signal.aborted ? abortError(signal) : new NetworkError(`PUT: no progress in ${stallMs} ms`));
        };
        xhr.open('PUT', url);
        xhr.send(bytes);
      }),
  };
}
