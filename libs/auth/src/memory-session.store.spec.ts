import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UPLOAD_SCOPE } from '@koodrive/protocol';
import { openDemoSession } from './demo-user.js';
import { MemorySessionStore } from './memory-session.store.js';

const MINUTE = 60_000;
const session = { userId: 'u-1', containerId: 'c-1', scopes: [UPLOAD_SCOPE] };

function clock(start = Date.parse('2026-01-01T00:00:00Z')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe(MemorySessionStore.name, () => {
  it('answers the stored session, and null for an unknown token', async () => {
    const store = new MemorySessionStore();
    await store.put('tok-1', session, 1200);
    assert.deepEqual(await store.touch('tok-1'), session);
    assert.equal(await store.touch('tok-2'), null);
  });

  it('expires a session left idle for its TTL', async () => {
    const time = clock();
    const store = new MemorySessionStore(time.now);
    await store.put('tok-1', session, 60);
    time.advance(MINUTE - 1);
    assert.deepEqual(await store.touch('tok-1'), session);
    time.advance(20 * MINUTE);
    assert.equal(await store.touch('tok-1'), null);
  });

  it('restarts the 20 idle minutes on every touch (sliding expiry), whatever the first TTL', async () => {
    const time = clock();
    const store = new MemorySessionStore(time.now);
    await store.put('tok-1', session, 60);
    time.advance(MINUTE / 2);
    assert.deepEqual(await store.touch('tok-1'), session, 'within the first TTL');
    for (let i = 0; i < 5; i++) {
      time.advance(19 * MINUTE);
      assert.deepEqual(await store.touch('tok-1'), session, `touch ${i}`);
    }
    time.advance(20 * MINUTE);
    assert.equal(await store.touch('tok-1'), null);
  });

  it('keeps a session put with an infinite TTL, touched or not', async () => {
    const time = clock();
    const store = new MemorySessionStore(time.now);
    await store.put('tok-1', session, Number.POSITIVE_INFINITY);
    time.advance(7 * 24 * 60 * MINUTE);
    assert.deepEqual(await store.touch('tok-1'), session);
    time.advance(21 * MINUTE);
    assert.deepEqual(await store.touch('tok-1'), session);
  });

  it('keeps its own copy of the session', async () => {
    const store = new MemorySessionStore();
    const scopes = [UPLOAD_SCOPE];
    await store.put('tok-1', { ...session, scopes }, 1200);
    scopes.push('file.delete');
    assert.deepEqual((await store.touch('tok-1'))?.scopes, [UPLOAD_SCOPE]);
  });
});

describe(openDemoSession.name, () => {
  it('opens a session for the demo user under a fresh 32-byte base64url token, kept past 20 idle minutes', async () => {
    const time = clock();
    const store = new MemorySessionStore(time.now);
    const token = await openDemoSession(store);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(await openDemoSession(store), token);
    time.advance(24 * 60 * MINUTE);
    assert.deepEqual(await store.touch(token), { userId: 'demo', containerId: 'demo', scopes: [UPLOAD_SCOPE] });
  });
});
