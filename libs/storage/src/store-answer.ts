// What the lean data path (part-put.ts, range-read.ts) makes of a store's answer that is not the
// bytes or the ETag it asked for.
import type { IncomingMessage } from 'node:http';

// how much of an error answer's body is kept for its <Code>
const ERROR_BODY_LIMIT = 8 * 1024;

// The store answered with another status than the one asked for. `code` is the S3 error code from
// the XML body, when there is one (NoSuchUpload, NoSuchKey, SlowDown, AccessDenied...).
export class StoreStatusError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    what: string,
  ) {
    super(`${what} answered HTTP ${status}${code === undefined ? '' : ` ${code}`}`);
    this.name = 'StoreStatusError';
  }
}

// The answer's status and the <Code> of its XML body (read up to 8 KiB, to its end, or as far as
// the connection goes).
export function statusError(response: IncomingMessage, what: string): Promise<StoreStatusError> {
  return new Promise((resolve) => {
    const kept: Buffer[] = [];
    let bytes = 0;
    const done = (): void => {
      response.off('data', onData).off('end', done).off('close', done).off('error', done);
      response.destroy();
      const body = Buffer.concat(kept).toString('utf8');
      resolve(new StoreStatusError(response.statusCode ?? 0, /<Code>([^<]+)<\/Code>/.exec(body)?.[1], what));
    };
    const onData = (chunk: Buffer): void => {
      kept.push(chunk);
      bytes += chunk.length;
      if (bytes >= ERROR_BODY_LIMIT) {
        done();
      }
    };
    response.on('data', onData).once('end', done).once('close', done).once('error', done);
  });
}

// The URL without its query: a presigned URL's query is a credential.
export function redactedTarget(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

// An error of the connection, with the code the storage adapter reads (ECONNRESET, ETIMEDOUT).
export function connectionError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}
