// The event publisher's wait for replicas (EVENTS_WAIT_REPLICAS, on by default with Sentinel): a
// batch counts as published only once that many replicas hold it; a primary without enough
// replicas connected is sent nothing (the relay tries every run: it would add the batch each time).
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { OutboxMessage } from '@koodrive/database';
import { DependencyUnavailableError } from '@koodrive/errors';
import { RedisEventPublisher } from '@koodrive/events';
import { SentinelGroup } from '../support/redis-sentinel.ts';

function events(count: number): OutboxMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    id: String(1_000 + i),
    type: 'file.completed',
    fileId: `Fi${randomUUID().replaceAll('-', '')}`,
    payload: { n: i },
    traceId: null,
    xTraceid: null,
    createdAt: new Date(),
  }));
}

describe('the event publisher waits for replicas', () => {
  const stream = `koodrive:test:publisher-${randomUUID()}`;
  let group: SentinelGroup;
  let standalone: Redis;

  before(async () => {
    standalone = new Redis(process.env.REDIS_URL!);
    group = await SentinelGroup.start();
  });
  after(async () => {
    await standalone?.del(stream);
    standalone?.disconnect();
    await group?.destroy();
  });

  it('sends nothing to a primary with fewer replicas connected than asked, and says so', async () => {
    const replicas = /connected_slaves:(\d+)/.exec(await standalone.info('replication'))?.[1];
    assert.equal(replicas, '0', 'the shared Redis has no replica');
    const publisher = new RedisEventPublisher(standalone, stream, { replicas: 1, timeoutMs: 200 });
    await assert.rejects(publisher.publish(events(3)), (error: Error) => {
      assert.ok(error instanceof DependencyUnavailableError);
      assert.match(String(error.cause), /0 replica\(s\) connected, 1 asked for/);
      return true;
    });
    assert.equal(await standalone.xlen(stream), 0, 'no entry was added');
  });

  it('publishes once the replica holds the batch', async () => {
    const port = await group.primaryPort();
    const primary = new Redis({ host: '127.0.0.1', port });
    try {
      const publisher = new RedisEventPublisher(primary, stream, { replicas: 1, timeoutMs: 2_000 });
      const batch = events(3);
      await publisher.publish(batch);
      const entries = await primary.xrange(stream, '-', '+');
      assert.deepEqual(
        entries.map(([, fields]) => fields[fields.indexOf('id') + 1]),
        batch.map((event) => String(event.id)),
      );
      // and the replica has them (WAIT said so)
      const replicaPort = Number(/slave0:ip=[^,]+,port=(\d+)/.exec(await primary.info('replication'))?.[1]);
      const replica = new Redis({ host: '127.0.0.1', port: replicaPort });
      try {
        assert.equal(await replica.xlen(stream), 3);
      } finally {
        replica.disconnect();
      }
    } finally {
      primary.disconnect();
    }
  });
});
