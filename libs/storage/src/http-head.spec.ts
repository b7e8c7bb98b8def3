// The response reader of the lean store clients, fed bytes as a socket might cut them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_BODY_LIMIT, parseHead, ResponseReader, type ReadResult, s3ErrorCode } from './http-head.js';

const NO_SUCH_UPLOAD =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code>' +
  '<Message>The specified upload does not exist.</Message><RequestId>tx1</RequestId></Error>';

// Feeds `text` to a new reader `size` bytes at a time; the results, one per piece.
function feed(text: string, size: number): ReadResult[] {
  const reader = new ResponseReader();
  const bytes = Buffer.from(text, 'latin1');
  const results: ReadResult[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    results.push(reader.push(bytes.subarray(at, at + size)));
  }
  return results;
}

describe(parseHead.name, () => {
  it('reads the status and the headers by lower-case name, values trimmed', () => {
    const head = parseHead('HTTP/1.1 200 OK\r\nETag:  "abc"\r\nx-amz-request-id: tx1\r\nContent-Length: 0');
    assert.equal(head?.status, 200);
    assert.equal(head?.headers.get('etag'), '"abc"');
    assert.equal(head?.headers.get('content-length'), '0');
    assert.equal(head?.headers.get('x-amz-request-id'), 'tx1');
  });

  it('refuses what is not an HTTP/1.x status line', () => {
    assert.equal(parseHead('HTTP/2 200\r\netag: x'), null);
    assert.equal(parseHead('SSH-2.0-OpenSSH_9.2'), null);
  });
});

describe(s3ErrorCode.name, () => {
  it('takes the <Code> of an S3 error body, and nothing from another body', () => {
    assert.equal(s3ErrorCode(NO_SUCH_UPLOAD), 'NoSuchUpload');
    assert.equal(s3ErrorCode('<html>Bad Gateway</html>'), undefined);
  });
});

describe(ResponseReader.name, () => {
  const answer404 = `HTTP/1.1 404 Not Found\r\nContent-Type: application/xml\r\nContent-Length: ${NO_SUCH_UPLOAD.length}\r\n\r\n${NO_SUCH_UPLOAD}`;

  it('gives the head, then the body once its Content-Length is in, however the bytes are cut', () => {
    for (const size of [1, 7, 64, answer404.length]) {
      const results = feed(answer404, size);
      const last = results.at(-1)!;
      assert.equal(last.kind, 'done', `pieces of ${size}`);
      assert.equal(last.kind === 'done' && last.head.status, 404);
      assert.equal(last.kind === 'done' && s3ErrorCode(last.body), 'NoSuchUpload');
      // nothing is done before the last byte of the body
      assert.ok(results.slice(0, -1).every((result) => result.kind !== 'done'), `pieces of ${size}`);
    }
    const headOnly = feed(answer404.slice(0, answer404.indexOf('<?xml')), 1000);
    assert.equal(headOnly.at(-1)!.kind, 'head');
  });

  it('is done at once with a 200 of Content-Length 0', () => {
    const result = feed('HTTP/1.1 200 OK\r\nETag: "d41d8cd98f00b204e9800998ecf8427e"\r\nContent-Length: 0\r\n\r\n', 1000)[0]!;
    assert.equal(result.kind, 'done');
    assert.equal(result.kind === 'done' && result.head.headers.get('etag'), '"d41d8cd98f00b204e9800998ecf8427e"');
  });

  it('skips interim answers (100 Continue, 103 Early Hints) for the final one', () => {
    const text = `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n${answer404}`;
    for (const size of [3, text.length]) {
      const last = feed(text, size).at(-1)!;
      assert.equal(last.kind === 'done' && last.head.status, 404);
    }
  });

  it('ends a chunked body at its last chunk, and a body without length when the connection does', () => {
    const chunked = `HTTP/1.1 503 Slow Down\r\nTransfer-Encoding: chunked\r\n\r\n${NO_SUCH_UPLOAD.length.toString(16)}\r\n${NO_SUCH_UPLOAD}\r\n0\r\n\r\n`;
    const results = feed(chunked, 10);
    assert.equal(results.at(-1)!.kind, 'done');
    assert.equal(results.at(-2)!.kind, 'head');
    const unframed = new ResponseReader();
    assert.equal(unframed.push(Buffer.from(`HTTP/1.1 500 Internal Server Error\r\n\r\n${NO_SUCH_UPLOAD}`)).kind, 'head');
    const closed = unframed.closed();
    assert.equal(closed.kind === 'done' && s3ErrorCode(closed.body), 'NoSuchUpload');
    // a connection closed before any head leaves nothing
    assert.equal(new ResponseReader().closed().kind, 'pending');
  });

  it(`keeps at most ${ERROR_BODY_LIMIT} bytes of a body, and is done there`, () => {
    const reader = new ResponseReader();
    reader.push(Buffer.from('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 1000000\r\n\r\n'));
    const result = reader.push(Buffer.alloc(ERROR_BODY_LIMIT + 10, 'x'));
    assert.equal(result.kind === 'done' && result.body.length, ERROR_BODY_LIMIT);
  });

  it('refuses a head that is not HTTP/1.x or never ends', () => {
    assert.equal(feed('SSH-2.0-OpenSSH_9.2\r\n\r\n', 100).at(-1)!.kind, 'malformed');
    const reader = new ResponseReader();
    reader.push(Buffer.from('HTTP/1.1 200 OK\r\n'));
    const result = reader.push(Buffer.alloc(64 * 1024, 'a'));
    assert.equal(result.kind === 'malformed' && result.problem, 'response head over 65536 bytes');
  });
});
