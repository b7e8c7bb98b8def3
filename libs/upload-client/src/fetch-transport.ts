// A PartTransport for bytes already in memory, over fetch (Node or a browser): the bytes are
// counted as sent once the answer is in (fetch does not tell an upload's progress).
import { NetworkError } from './retry.js';
import type { PartTransport, PutAnswer } from './part-scheduler.js';

export const fetchTransport: PartTransport<Uint8Array> = {
  async put(url, bytes, signal, onBytes): Promise<PutAnswer> {
    let response: Response;
    try {
      // (a Node Buffer is typed over any ArrayBuffer; fetch sends its bytes the same)
      response = await fetch(url, { method: 'PUT', body: bytes as Uint8Array<ArrayBuffer>, signal });
    } catch (error) {
      if (signal.aborted) {
        throw error;
      }
      throw new NetworkError(`PUT ${new URL(url).host}: no answer`, { cause: error });
    }
    // read to the end: the caller may reuse the bytes once the answer is in
    const text = await response.text();
    if (response.ok) {
      onBytes(bytes.byteLength);
    }
    return { status: response.status, text };
  },
};
