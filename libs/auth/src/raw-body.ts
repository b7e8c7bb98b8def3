// The request body's bytes as they arrived, for app signatures (their HashedPayload is the SHA-256
// of exactly those bytes). The JSON body parser keeps them here; nothing else holds them.
import type { IncomingMessage } from 'node:http';

const RAW_BODIES = new WeakMap<IncomingMessage, Buffer>();

export function keepRawBody(request: IncomingMessage, body: Buffer): void {
  RAW_BODIES.set(request, body);
}

export function rawBodyOf(request: IncomingMessage): Buffer {
  return RAW_BODIES.get(request) ?? Buffer.alloc(0);
}
