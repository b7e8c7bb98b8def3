// The little HTTP/1.1 the lean store clients (range-get.ts, stream-put.ts) need: a response head
// parsed, an error answer's S3 code, and one short response read from socket chunks.

export interface ResponseHead {
  readonly status: number;
  // names lower-cased
  readonly headers: ReadonlyMap<string, string>;
}

// how large a response head may be
export const HEAD_LIMIT = 64 * 1024;
// how much of an error answer's body is kept for its <Code>
export const ERROR_BODY_LIMIT = 8 * 1024;

const HEAD_END = Buffer.from('\r\n\r\n');

// A response head without its closing blank line; null when it is not HTTP/1.x.
export function parseHead(text: string): ResponseHead | null {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (status === null) {
    return null;
  }
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  return { status: Number(status[1]), headers };
}

export function contentLength(head: ResponseHead): number | undefined {
  const value = head.headers.get('content-length');
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

// The <Code> of an S3 error body (NoSuchKey, NoSuchUpload, SlowDown...), if it has one.
export function s3ErrorCode(body: string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
}

// The URL without its query: a presigned URL's query is a credential.
export function redactedTarget(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

export type ReadResult =
  // more bytes needed
  | { readonly kind: 'pending' }
  // the head of the final answer is in; its body (up to ERROR_BODY_LIMIT bytes of it) may follow
  | { readonly kind: 'head'; readonly head: ResponseHead }
  // the answer and as much of its body as is kept
  | { readonly kind: 'done'; readonly head: ResponseHead; readonly body: string }
  | { readonly kind: 'malformed'; readonly problem: string };

// One response, fed the socket's chunks as they come: interim answers (100 Continue, 103 Early
// Hints) are skipped; the final answer's body is kept up to ERROR_BODY_LIMIT bytes and ends at its
// Content-Length, at the last chunk of a chunked body, at the limit, or when the connection does
// (closed()). For short answers (an upload's 200, an error's XML): a body is copied as it comes.
export class ResponseReader {
  private pending: Buffer = Buffer.alloc(0);
  private head: ResponseHead | null = null;
  private body: Buffer[] = [];
  private bodyBytes = 0;
  // the body's length the head announced, or undefined (chunked or to the connection's end)
  private expected: number | undefined;
  private chunked = false;
  private result: ReadResult = { kind: 'pending' };

  push(chunk: Buffer): ReadResult {
    if (this.result.kind === 'done' || this.result.kind === 'malformed') {
      return this.result;
    }
    if (this.head !== null) {
      this.take(chunk);
      return this.result;
    }
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const end = this.pending.indexOf(HEAD_END);
      if (end === -1) {
        if (this.pending.length >= HEAD_LIMIT) {
          this.result = { kind: 'malformed', problem: `response head over ${HEAD_LIMIT} bytes` };
        }
        return this.result;
      }
      const head = parseHead(this.pending.subarray(0, end).toString('latin1'));
      if (head === null) {
        this.result = { kind: 'malformed', problem: 'not an HTTP/1.1 response' };
        return this.result;
      }
      const rest = this.pending.subarray(end + HEAD_END.length);
      if (head.status >= 200) {
        this.head = head;
        this.pending = Buffer.alloc(0);
        this.chunked = /chunked/i.test(head.headers.get('transfer-encoding') ?? '');
        this.expected = this.chunked ? undefined : contentLength(head);
        this.result = { kind: 'head', head };
        this.take(rest);
        return this.result;
      }
      this.pending = rest;
    }
  }

  // The connection ended: what came of the body is all there is.
  closed(): ReadResult {
    if (this.head !== null && this.result.kind === 'head') {
      this.finish();
    }
    return this.result;
  }

  private take(chunk: Buffer): void {
    const room = ERROR_BODY_LIMIT - this.bodyBytes;
    if (chunk.length > 0 && room > 0) {
      const kept = chunk.subarray(0, room);
      this.body.push(kept);
      this.bodyBytes += kept.length;
    }
    const tail = this.chunked ? Buffer.concat(this.body).subarray(-5).toString('latin1') : '';
    if (
      this.bodyBytes >= ERROR_BODY_LIMIT ||
      (this.expected !== undefined && this.bodyBytes >= this.expected) ||
      (this.chunked && tail === '0\r\n\r\n') ||
      // no body: HEAD-like answers and 204/304 say nothing of their length
      this.head!.status === 204 ||
      this.head!.status === 304
    ) {
      this.finish();
    }
  }

  private finish(): void {
    const length = this.expected === undefined ? this.bodyBytes : Math.min(this.expected, this.bodyBytes);
    this.result = {
      kind: 'done',
      head: this.head!,
      body: Buffer.concat(this.body).subarray(0, length).toString('utf8'),
    };
  }
}
