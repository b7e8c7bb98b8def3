// OutboxRelayService on the embedded parts (PGlite) and the in-process publisher: every committed
// event goes out once; after a publish that failed, again (at least once; consumers dedupe on id).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FILE_COMPLETED, type OutboxMessage } from '@koodrive/database';
import { DependencyUnavailableError } from '@koodrive/errors';
import { MemoryEventPublisher } from '@koodrive/events';
import { newUploadFile } from '../../../../test/support/factories.js';
import { sha256Hex, useEmbeddedParts } from '../../../../test/support/embedded-parts.js';
import { OutboxRelayService } from './outbox-relay.service.js';

// The in-process publisher, counting the batches it is handed; `loseNextAnswer` makes the next
// publish take its batch and then fail, as a stream write whose answer never came back does.
class CountingPublisher extends MemoryEventPublisher {
  readonly batches: number[] = [];
  loseNextAnswer = false;

  override async publish(events: readonly OutboxMessage[]): Promise<void> {
    this.batches.push(events.length);
    await super.publish(events);
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new DependencyUnavailableError('redis', new Error('the publish answer was lost (injected)'));
    }
  }
}

describe(OutboxRelayService.name, () => {
  const parts = useEmbeddedParts();

  // `count` files completed at once (flash uploads), each announcing itself in the outbox.
  async function completedFiles(count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const file = newUploadFile({ uploadId: null });
      await parts().tasks.createCompletedCopy(file, sha256Hex(Buffer.from(file.id)), {
        traceId: undefined,
        xTraceid: `trace-${i}`,
      });
      ids.push(file.id);
    }
    return ids;
  }

  // `count` events already committed (by other replicas), written in two statements: more than a
  // batch of them, which one event per transaction would take seconds to make on PGlite.
  async function committedEvents(count: number): Promise<string[]> {
    const files = Array.from({ length: count }, () => newUploadFile({ uploadId: null }));
    await parts().prisma.file.createMany({
      data: files.map((file) => ({
        id: file.id,
        ownerId: file.ownerId,
        containerId: file.containerId,
        parentFolder: file.parentFolder,
        fileName: file.fileName,
        length: BigInt(file.length),
        storageKey: file.storageKey,
        uploadToken: file.uploadToken,
        expiresAt: file.expiresAt,
        status: 'COMPLETED' as const,
      })),
    });
    await parts().prisma.outboxEvent.createMany({
      data: files.map(({ id }) => ({ type: FILE_COMPLETED, fileId: id, payload: { fileId: id } })),
    });
    return files.map(({ id }) => id);
  }
  const unpublished = () => parts().prisma.outboxEvent.count({ where: { publishedAt: null } });

  it('publishes every committed event once, in order, in batches until the outbox is empty', async () => {
    const files = [...(await completedFiles(2)), ...(await committedEvents(128))];
    const publisher = new CountingPublisher();
    const relay = new OutboxRelayService(parts().outbox, publisher);

    assert.equal(await relay.relay(), 130);

    assert.deepEqual(publisher.batches, [100, 30]);
    const published = publisher.recent();
    assert.deepEqual(
      published.map((event) => event.fileId),
      files,
    );
    assert.ok(published.every((event) => event.type === FILE_COMPLETED));
    const ids = published.map((event) => BigInt(event.id));
    assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!));
    assert.equal(await unpublished(), 0);
    // nothing goes out twice
    assert.equal(await relay.relay(), 0);
    assert.equal(publisher.recent().length, 130);
  });

  it('publishes a batch again after a publish that failed, marking it only once one succeeded', async () => {
    const files = await completedFiles(3);
    const publisher = new CountingPublisher();
    const relay = new OutboxRelayService(parts().outbox, publisher);
    publisher.loseNextAnswer = true;

    await assert.rejects(relay.relay(), DependencyUnavailableError);

    assert.equal(await unpublished(), 3);
    assert.equal(await relay.relay(), 3);
    assert.equal(await unpublished(), 0);
    // at least once: the batch whose answer was lost went out twice, under the same event ids
    const published = publisher.recent();
    assert.deepEqual(
      published.map((event) => event.fileId),
      [...files, ...files],
    );
    assert.deepEqual(
      published.slice(0, 3).map((event) => event.id),
      published.slice(3).map((event) => event.id),
    );
    assert.equal(await relay.relay(), 0);
  });
});
