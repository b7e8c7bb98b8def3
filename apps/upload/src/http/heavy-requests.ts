// Requests with a large body (a create, createRevision or uploadUrl listing up to 10,000 parts: a
// body over 64 KiB) run one at a time, from their body's parsing to their answer's serialization.
// Each costs the event loop a few dozen milliseconds at a stretch (parsing, planning, the plans'
// SQL, signing and serializing a slice at a time); six of them interleaved kept /readyz, whose
// checks need several turns of the loop, waiting 400 ms, and their parsed bodies all lived at once.
// Queued here as bytes, the others wait without costing anything, and a probe waits for one slice
// of one request at most. The gate is given back once the answer is serialized (onSend), or the
// request is aborted, or its response closes.
import type { FastifyInstance, FastifyRequest } from 'fastify';

// Runs `work` (the body's parsing, which goes on into the handler) once the request holds the gate.
export type AdmitHeavy = (request: FastifyRequest, work: () => void) => void;

export function registerHeavyRequestGate(fastify: FastifyInstance): AdmitHeavy {
  const gate = new Gate();
  const holding = new WeakSet<FastifyRequest>();
  const release = (request: FastifyRequest): void => {
    if (holding.delete(request)) {
      gate.release();
    }
  };
  fastify.addHook('preHandler', (request, reply, done) => {
    if (holding.has(request)) {
      // the answer sent, or the connection gone before it was
      reply.raw.once('close', () => release(request));
    }
    done();
  });
  fastify.addHook('onSend', (request, _reply, payload, done) => {
    release(request);
    done(null, payload);
  });
  fastify.addHook('onRequestAbort', (request, done) => {
    release(request);
    done();
  });
  fastify.addHook('onResponse', (request, _reply, done) => {
    release(request);
    done();
  });
  return (request, work) => {
    void gate.acquire().then(() => {
      holding.add(request);
      // a turn of the loop of its own: not on the tail of the answer before
      setImmediate(work);
    });
  };
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
