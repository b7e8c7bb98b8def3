import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { contextOf, currentContext, openRequestContext, runInContext } from './request-context.js';

const fields = { xTraceid: 'trace-1', traceId: undefined, spanId: undefined, language: 'en-US' as const };

describe('request context', () => {
  it('is found from its request, one per request, and starts empty', () => {
    const [a, b] = [new IncomingMessage(new Socket()), new IncomingMessage(new Socket())];
    const context = openRequestContext(a, fields);
    assert.equal(contextOf(a), context);
    assert.equal(contextOf(b), undefined);
    assert.deepEqual(context.outcome, {});
    assert.equal(context.rawBody.length, 0);
    assert.equal(context.principal, undefined);
  });

  it('is current inside runInContext across awaits and timers, and nowhere else', async () => {
    const context = openRequestContext(new IncomingMessage(new Socket()), { ...fields, xTraceid: 'trace-2' });
    assert.equal(currentContext(), undefined);
    const seen = await runInContext(context, async () => {
      await sleep(1);
      return new Promise<string | undefined>((resolve) => setTimeout(() => resolve(currentContext()?.xTraceid), 1));
    });
    assert.equal(seen, 'trace-2');
    assert.equal(currentContext(), undefined);
  });
});
