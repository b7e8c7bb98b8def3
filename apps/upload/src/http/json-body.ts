// Request bodies: JSON only, parsed by Fastify's own (prototype-poisoning safe) parser after two
// checks of ours, and the part PUT's raw stream. create, createRevision and uploadUrl take up to
// 4 MiB (a full 10,000-part list; a body over 64 KiB is parsed in its turn, one at a time:
// heavy-requests.ts), every other route 64 KiB; JSON nested deeper than MAX_DEPTH is
// refused before it is parsed (a deep body would otherwise overflow the stack of whatever walks
// it). All of that is 13000101. The bytes are kept for app signatures (their HashedPayload).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorCodes } from 'fastify';
import { contextOf } from '@koodrive/context';
import { ApiCode, ApiException } from '@koodrive/errors';
import type { AdmitHeavy } from './heavy-requests.js';

export const LARGE_BODY_LIMIT_BYTES = 4 * 1024 * 1024;
export const BODY_LIMIT_BYTES = 64 * 1024;
const MAX_DEPTH = 32;
const LARGE_BODY_ROUTES: ReadonlySet<string> = new Set([
  '/koodrive/ose/v1/files/create',
  '/koodrive/ose/v1/files/multipart/uploadUrl',
  '/koodrive/ose/v1/revision/createRevision',
]);

// Call before the routes are registered (the body limits are set per route as it is added).
// `streamedRoute`: the route whose body is handed to its handler as the raw stream, whatever
// its Content-Type says.
// `admitHeavy`: where a large body waits its turn to be parsed (heavy-requests.ts).
export function registerBodyParsers(fastify: FastifyInstance, streamedRoute: string, admitHeavy: AdmitHeavy): void {
  fastify.addHook('onRoute', (route) => {
    route.bodyLimit ??= LARGE_BODY_ROUTES.has(route.url) ? LARGE_BODY_LIMIT_BYTES : BODY_LIMIT_BYTES;
  });
  // storage takes any Content-Type for a part, and so does the service's part URL
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (request.routeOptions.url === streamedRoute) {
      request.raw.headers['content-type'] = 'application/octet-stream';
    }
    done();
  });
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    // a large body: only create, createRevision and uploadUrl take one (POST)
    if (
      bytes.length <= BODY_LIMIT_BYTES ||
      request.method !== 'POST' ||
      !LARGE_BODY_ROUTES.has(request.routeOptions.url ?? '')
    ) {
      parse(request, bytes, done);
    } else {
      admitHeavy(
        request,
        () => parse(request, bytes, done, true),
        (error) => done(error, undefined),
      );
    }
  });
  // a body that is not JSON: 13000101, but for the streamed route's
  fastify.addContentTypeParser('*', (request, _payload, done) => {
    if (request.routeOptions.url === streamedRoute) {
      done(null);
    } else {
      done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(request.headers['content-type'] ?? ''));
    }
  });

  // `large`: the scan and the parse each take a turn of the event loop (about 10 ms each for
  // 1.5 MiB): a probe waits for one, not both
  function parse(request: FastifyRequest, bytes: Buffer, done: ParseDone, large = false): void {
    if (nestingDepth(bytes) > MAX_DEPTH) {
      done(
        new ApiException(ApiCode.RequestError, { detail: `JSON nested deeper than ${MAX_DEPTH} levels` }),
        undefined,
      );
      return;
    }
    const context = contextOf(request.raw);
    if (context !== undefined) {
      context.rawBody = bytes;
    }
    if (large) {
      setImmediate(() => void parseJson(request, bytes.toString('utf8'), done));
    } else {
      void parseJson(request, bytes.toString('utf8'), done);
    }
  }
}

type ParseDone = (error: Error | null, body?: unknown) => void;

// The deepest nesting of objects and arrays in a JSON text (brackets inside strings not counted).
export function nestingDepth(json: Buffer): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const byte = json[i];
    if (inString) {
      if (byte === 0x5c) {
        i++; // backslash: skip the escaped character
      } else if (byte === 0x22) {
        inString = false;
      }
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      deepest = Math.max(deepest, ++depth);
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
    }
  }
  return deepest;
}
