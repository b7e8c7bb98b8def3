import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutboxMessage } from '@koodrive/database';
import { MemoryEventPublisher } from './memory-event-publisher.js';

function event(id: number): OutboxMessage {
  return {
    id: String(id),
    type: 'file.completed',
    fileId: `Fi${id}`,
    payload: { sha256: 'ab'.repeat(32) },
    traceId: null,
    xTraceid: null,
    createdAt: new Date(0),
  };
}

describe(MemoryEventPublisher.name, () => {
  it('keeps the published events in order', async () => {
    const publisher = new MemoryEventPublisher();
    await publisher.publish([event(1), event(2)]);
    await publisher.publish([event(3)]);
    assert.deepEqual(
      publisher.recent().map((e) => e.id),
      ['1', '2', '3'],
    );
  });

  it('keeps only the last `capacity` events', async () => {
    const publisher = new MemoryEventPublisher(3);
    await publisher.publish([event(1), event(2)]);
    await publisher.publish([event(3), event(4), event(5)]);
    assert.deepEqual(
      publisher.recent().map((e) => e.id),
      ['3', '4', '5'],
    );
    await publisher.publish(Array.from({ length: 10 }, (_, i) => event(10 + i)));
    assert.deepEqual(
      publisher.recent().map((e) => e.id),
      ['17', '18', '19'],
    );
  });

  it('hands out a copy of its log', async () => {
    const publisher = new MemoryEventPublisher();
    await publisher.publish([event(1)]);
    (publisher.recent() as OutboxMessage[]).length = 0;
    assert.equal(publisher.recent().length, 1);
  });
});
