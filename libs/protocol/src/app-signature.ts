// KooDrive's app authentication (API.md, "App authentication"): the canonical request, its
// signature, the Authorization header and X-Date. Shared by the service (verifies) and clients (sign).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface AppAuthorization {
  readonly appId: string;
  // lower case, sorted, unique (verifyAppSignature checks that the required ones are among them)
  readonly signedHeaders: readonly string[];
  // 64 lower-case hex characters
  readonly signature: string;
}

export interface AppRequest {
  readonly method: string;
  // the path alone, as sent (percent-escapes and all); no query
  readonly path: string;
  // the query as sent, without `?`; '' for none
  readonly query: string;
}

export interface CanonicalRequestInput extends AppRequest {
  // lower-case names
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly signedHeaders: readonly string[];
  readonly payloadSha256Hex: string;
}

export interface SignAppRequestInput extends Omit<AppRequest, 'query'> {
  readonly appId: string;
  readonly secret: string;
  readonly query?: string;
  // lower-case names; must hold host, x-date and x-user-id; every x-hw-* among them is signed too
  readonly headers: Readonly<Record<string, string>>;
  // signed beyond host, x-date, x-user-id and the x-hw-* headers
  readonly signedHeaders?: readonly string[];
  readonly body?: Uint8Array | string;
}

export interface VerifyAppSignatureInput extends AppRequest {
  readonly authorization: AppAuthorization;
  readonly secret: string;
  // lower-case names, as node:http gives them (a repeated header may arrive as an array)
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly payloadSha256Hex: string;
}

// `reason` is for logs only: a response never says why a signature failed
export type AppSignatureVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface AppCredential {
  readonly secret: string;
  readonly scopes: readonly string[];
}

export const APP_AUTH_SCHEME = 'HMAC-SHA256';
export const X_DATE_MAX_AGE_MS = 15 * 60_000;
export const X_DATE_MAX_SKEW_MS = 60_000;

// signed by every request; and every x-hw-* header a request carries (API.md)
const REQUIRED_SIGNED_HEADERS = ['host', 'x-date', 'x-user-id'];
const MUST_SIGN = /^x-hw-/;
const APP_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const HEADER_NAME = /^[a-z0-9-]+$/;
const AUTHORIZATION =
  /^HMAC-SHA256 +AppId=([A-Za-z0-9_.-]{1,64}), *SignedHeaders=([a-z0-9-]+(?:;[a-z0-9-]+)*), *Signature=([0-9a-f]{64})$/;
const X_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const MIN_SECRET_LENGTH = 16;

export function parseAppAuthorization(header: string): AppAuthorization | null {
  const match = AUTHORIZATION.exec(header);
  if (match === null) {
    return null;
  }
  const [, appId = '', names = '', signature = ''] = match;
  const signedHeaders = names.split(';');
  // one canonical form: sorted and unique, as the canonical request lists them
  const sorted = signedHeaders.every((name, i) => i === 0 || (signedHeaders[i - 1] ?? '') < name);
  if (!sorted) {
    return null;
  }
  return { appId, signedHeaders, signature };
}

export function canonicalUri(rawPath: string): string {
  // segment by segment, so an encoded slash (%2F) stays inside its segment
  const path = rawPath
    .split('/')
    .map((segment) => encodeRfc3986(percentDecode(segment)))
    .join('/');
  const rooted = path.startsWith('/') ? path : `/${path}`;
  return rooted.endsWith('/') ? rooted : `${rooted}/`;
}

export function canonicalQueryString(rawQuery: string): string {
  const query = rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery;
  const pairs = query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair): [string, string] => {
      const eq = pair.indexOf('=');
      const [name, value] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
      return [encodeRfc3986(percentDecode(name)), encodeRfc3986(percentDecode(value))];
    });
  pairs.sort(([aName, aValue], [bName, bValue]) => compare(aName, bName) || compare(aValue, bValue));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

export function canonicalRequest(input: CanonicalRequestInput): string {
  const names = [...new Set(input.signedHeaders)].sort(compare);
  const headers = names.map((name) => {
    const value = ownValue(input.headers, name);
    if (typeof value !== 'string') {
      throw new Error(`signed header ${name} has no value`);
    }
    return `${name}:${trimOws(value)}\n`;
  });
  return [
    // fetch upper-cases the standard methods it is given, so a signer's `post` is sent as POST
    input.method.toUpperCase(),
    canonicalUri(input.path),
    canonicalQueryString(input.query),
    headers.join(''),
    names.join(';'),
    input.payloadSha256Hex,
  ].join('\n');
}

export function stringToSign(canonical: string): string {
  return `${APP_AUTH_SCHEME}\n${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
}

export function appSignature(secret: string, toSign: string): string {
  return createHmac('sha256', secret).update(toSign, 'utf8').digest('hex');
}

export function signAppRequest(input: SignAppRequestInput): { authorization: string } {
  const extra = (input.signedHeaders ?? []).map((name) => name.toLowerCase());
  const bad = extra.find((name) => !HEADER_NAME.test(name));
  if (bad !== undefined) {
    throw new Error(`cannot sign header ${JSON.stringify(bad)}: names are A-Z, a-z, 0-9 or -`);
  }
  if (!APP_ID.test(input.appId)) {
    throw new Error('appId must be 1-64 characters of A-Z, a-z, 0-9, _, . or -');
  }
  const carried = Object.keys(input.headers).filter((name) => MUST_SIGN.test(name));
  const signedHeaders = [...new Set([...REQUIRED_SIGNED_HEADERS, ...carried, ...extra])].sort(compare);
  const canonical = canonicalRequest({
    method: input.method,
    path: input.path,
    query: input.query ?? '',
    headers: input.headers,
    signedHeaders,
    payloadSha256Hex: createHash('sha256')
      .update(input.body ?? '')
      .digest('hex'),
  });
  const signature = appSignature(input.secret, stringToSign(canonical));
  return {
    authorization: `${APP_AUTH_SCHEME} AppId=${input.appId},SignedHeaders=${signedHeaders.join(';')},Signature=${signature}`,
  };
}

export function verifyAppSignature(input: VerifyAppSignatureInput): AppSignatureVerdict {
  const { signedHeaders, signature } = input.authorization;
  const missing =
    REQUIRED_SIGNED_HEADERS.find((name) => !signedHeaders.includes(name)) ??
    Object.keys(input.headers).find((name) => MUST_SIGN.test(name) && !signedHeaders.includes(name));
  if (missing !== undefined) {
    return { ok: false, reason: `${missing} is not signed` };
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = ownValue(input.headers, name);
    if (value === undefined) {
      return { ok: false, reason: `signed header ${name} is missing` };
    }
    if (typeof value !== 'string') {
      return { ok: false, reason: `signed header ${name} is repeated` };
    }
    headers[name] = value;
  }
  const canonical = canonicalRequest({
    method: input.method,
    path: input.path,
    query: input.query,
    headers,
    signedHeaders,
    payloadSha256Hex: input.payloadSha256Hex,
  });
  const expected = Buffer.from(appSignature(input.secret, stringToSign(canonical)));
  const given = Buffer.from(signature);
  // timingSafeEqual needs equal lengths; a parsed signature always has 64 characters
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'signature mismatch' };
  }
  return { ok: true };
}

export function formatXDate(date: Date): string {
  // toISOString throws for an invalid date, and writes years past 9999 as +YYYYYY
  const iso = date.toISOString();
  if (!/^\d{4}-/.test(iso)) {
    throw new RangeError('X-Date holds years 0000 to 9999 only');
  }
  return `${iso.slice(0, 19).replace(/[-:]/g, '')}Z`;
}

export function parseXDate(value: string): Date | null {
  if (!X_DATE.test(value)) {
    return null;
  }
  const date = new Date(value.replace(X_DATE, '$1-$2-$3T$4:$5:$6Z'));
  // an impossible date (Feb 30, hour 24, second 60) does not come back the same
  return Number.isNaN(date.getTime()) || formatXDate(date) !== value ? null : date;
}

export function xDateVerdict(xDate: Date, now: Date): 'ok' | 'stale' | 'future' {
  const age = now.getTime() - xDate.getTime();
  if (age > X_DATE_MAX_AGE_MS) {
    return 'stale';
  }
  return -age > X_DATE_MAX_SKEW_MS ? 'future' : 'ok';
}

export function parseAppCredentials(json: string): ReadonlyMap<string, AppCredential> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('app credentials must be JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('app credentials must be a JSON object of appId to {"secret", "scopes"}');
  }
  const apps = new Map<string, AppCredential>();
  for (const [appId, entry] of Object.entries(parsed)) {
    apps.set(appId, parseAppCredential(appId, entry));
  }
  return apps;
}

// messages name the app, never its secret
function parseAppCredential(appId: string, entry: unknown): AppCredential {
  const where = `app credentials: app ${JSON.stringify(appId)}`;
  if (!APP_ID.test(appId)) {
    throw new Error(`${where}: appId must be 1-64 characters of A-Z, a-z, 0-9, _, . or -`);
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new Error(`${where}: must be an object {"secret", "scopes"}`);
  }
  const { secret, scopes } = entry as Record<string, unknown>;
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`${where}: secret must be a string of at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string')) {
    throw new Error(`${where}: scopes must be an array of strings`);
  }
  return Object.freeze({ secret, scopes: Object.freeze([...scopes]) });
}

// valid %XY escapes become their byte; anything else (a stray %, raw UTF-8) stands for its own
// bytes, so a sloppy path or query still has one canonical form instead of throwing
function percentDecode(text: string): Buffer {
  const parts = text.split(/(%[0-9A-Fa-f]{2})/);
  return Buffer.concat(
    parts.map((part, i) =>
      i % 2 === 1 ? Buffer.from([Number.parseInt(part.slice(1), 16)]) : Buffer.from(part, 'utf8'),
    ),
  );
}

// RFC 3986: unreserved characters as they are, every other byte as %XY in upper case
function encodeRfc3986(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

// HTTP's optional whitespace is spaces and tabs; String.prototype.trim would also eat U+00A0 etc.
function trimOws(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '');
}

// own properties only: a header named `constructor` must not find Object's
function ownValue<T>(record: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(record, name) ? record[name] : undefined;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
