// Requests that list many parts (a create, createRevision or uploadUrl of up to 10,000) run one at a
// time. Each costs the event loop a few dozen milliseconds at a stretch (planning, the plans' SQL,
// signing and serializing a slice at a time); six of them interleaved kept /readyz, whose checks need
// several turns of the loop, waiting 400 ms. Queued here (after the body is parsed, before the
// handler), the others wait without costing anything, and a probe waits for one slice of one
// request at most. The gate is held until the answer is serialized (onSend), or the response closes without one.
import type { FastifyInstance, FastifyRequest } from 'fastify';

// a request listing more parts than this is heavy
export const HEAVY_PARTS = 1_000;

export function registerHeavyRequestGate(fastify: FastifyInstance, routes: ReadonlySet<string>): void {
  const gate = new Gate();
  const holding = new WeakSet<FastifyRequest>();
  const release = (request: FastifyRequest): void => {
    if (holding.delete(request)) {
      gate.release();
    }
  };
  fastify.addHook('preHandler', async (request, reply) => {
    if (routes.has(request.routeOptions.url ?? '') && partsListed(request.body) > HEAVY_PARTS) {
      await gate.acquire();
      holding.add(request);
      // the answer sent, or the connection gone before it was
      reply.raw.once('close', () => release(request));
    }
  });
  fastify.addHook('onSend', (request, _reply, payload, done) => {
    release(request);
    done(null, payload);
  });
}

function partsListed(body: unknown): number {
  const parts = (body as { multiParts?: unknown } | null | undefined)?.multiParts;
  return Array.isArray(parts) ? parts.length : 0;
}

// One holder at a time; the others resumed in the order they came.
export class Gate {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  async acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return;
    }
    await new Promise<void>((resume) => this.waiting.push(resume));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next === undefined) {
      this.held = false;
    } else {
      next();
    }
  }
}
