// Requests with a large body (a create, createRevision or uploadUrl listing up to 10,000 parts: a
// body over 64 KiB) run one at a time, from their body's parsing to their answer's serialization.
// Each costs the event loop a few dozen milliseconds at a stretch (parsing, planning, the plans'
// SQL, signing and serializing a slice at a time); six of them interleaved kept /readyz waiting
// 400 ms, and their parsed bodies all lived at once. Queued here as bytes (at most MAX_WAITING of
// them: the next is 429/13000903 with Retry-After), the others wait without costing anything, and
// a probe waits for one slice of one request at most. A request whose client left while it waited
// is refused at its turn, not run. The gate is given back once the answer is serialized (onSend)
// or, failing that, the response is done (onResponse): never while a handler still runs.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiCode, ApiException } from '@koodrive/errors';

// requests with a large body waiting for the one running (each holds its body, up to 4 MiB)
export const MAX_WAITING = 16;
const RETRY_AFTER_SECONDS = 1;

// Runs `work` (the body's parsing, which goes on into the handler) once the request holds the gate;
// `refuse` answers it with an error instead.
export type AdmitHeavy = (request: FastifyRequest, work: () => void, refuse: (error: Error) => void) => void;

export function registerHeavyRequestGate(fastify: FastifyInstance): AdmitHeavy {
  const gate = new Gate();
  const holding = new WeakSet<FastifyRequest>();
  const release = (request: FastifyRequest): void => {
    if (holding.delete(request)) {
      gate.release();
    }
  };
  fastify.addHook('onSend', (request, _reply, payload, done) => {
    release(request);
    done(null, payload);
  });
  fastify.addHook('onResponse', (request, _reply, done) => {
    release(request);
    done();
  });
  return (request, work, refuse) => {
    if (gate.waiting >= MAX_WAITING) {
      refuse(
        new ApiException(ApiCode.TooManyRequests, {
          detail: `${MAX_WAITING} large requests are waiting already`,
          retryAfterSeconds: RETRY_AFTER_SECONDS,
        }),
      );
      return;
    }
    void gate.acquire().then(() => {
      holding.add(request);
      // a turn of the loop of its own: not on the tail of the answer before
      setImmediate(() => {
        if (request.raw.socket === null || request.raw.socket.destroyed) {
          refuse(new ApiException(ApiCode.RequestError, { detail: 'the client left while its request waited' }));
          return;
        }
        try {
          work();
        } catch (error) {
          refuse(error as Error);
        }
      });
    });
  };
}

// One holder at a time; the others resumed in the order they came.
export class Gate {
  private held = false;
  private readonly queue: (() => void)[] = [];

  get waiting(): number {
    return this.queue.length;
  }

  async acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return;
    }
    await new Promise<void>((resume) => this.queue.push(resume));
  }

  release(): void {
    const next = this.queue.shift();
    if (next === undefined) {
      this.held = false;
    } else {
      next();
    }
  }
}
