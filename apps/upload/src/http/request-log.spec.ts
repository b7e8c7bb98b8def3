import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { REDACTED_PATHS, loggableFileId } from './request-log.js';

describe('request log', () => {
  it('redacts tokens, credentials and presigned URLs wherever a log call puts them', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink);
    logger.info({
      token: 'secret-1',
      uploadToken: 'secret-2',
      req: { headers: { authorization: 'Bearer secret-3', cookie: 'sid=secret-4' } },
      part: { uploadUrl: 'http://s3/?X-Amz-Signature=secret-5' },
      session: { accessToken: 'secret-6' },
      fileId: 'FiKeepThis',
    });
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0]!, /secret-/);
    assert.match(lines[0]!, /FiKeepThis/);
  });

  it('logs only fileIds of the service own format', () => {
    assert.equal(loggableFileId('FiAbc123'), 'FiAbc123');
    for (const hostile of ['Fi\nforged log line', "Fi' OR 1=1", 'x'.repeat(100), 42, undefined, 'Fi'.padEnd(70, 'a')]) {
      assert.equal(loggableFileId(hostile), undefined);
    }
  });
});
