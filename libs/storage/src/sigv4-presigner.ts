// S3 presigned URLs (SigV4, query-string auth) made with one HMAC each: the signing key is derived
// once a day and kept. The SDK's getSignedUrl builds a client pipeline per URL (about 0.5 ms of
// CPU here), which made a 10,000-part uploadUrl spend 5 s signing. The URLs are the SDK's, byte for
// byte (sigv4-presigner.spec.ts checks them against getSignedUrl): path-style or virtual-hosted
// like the client, `x-id` named for the operation, UNSIGNED-PAYLOAD, only `host` signed.
import { createHash, createHmac } from 'node:crypto';
import { isIP } from 'node:net';

export interface PresignCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface PresignerOptions {
  // the endpoint URL clients reach the store at (https://s3.example.com, http://127.0.0.1:7480)
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly forcePathStyle: boolean;
  // credentials as of now (they may rotate: the SDK's provider chain caches and refreshes them)
  readonly credentials: () => Promise<PresignCredentials>;
}

export interface PresignRequest {
  readonly method: 'GET' | 'PUT';
  readonly key: string;
  // the operation's own query (partNumber, uploadId) and its x-id
  readonly query: Readonly<Record<string, string>>;
  readonly expiresInSeconds: number;
  // for tests: the signing time
  readonly now?: Date;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
// a DNS-compatible bucket name, which the SDK addresses virtual-hosted unless told otherwise
const DNS_BUCKET = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export class SigV4Presigner {
  private readonly origin: URL;
  private readonly virtualHosted: boolean;
  // the day's signing key, by date and secret
  private cachedKey: { scope: string; secret: string; key: Buffer } | undefined;

  constructor(private readonly options: PresignerOptions) {
    this.origin = new URL(options.endpoint);
    // as the SDK does: path style for an IP address, whatever forcePathStyle says
    this.virtualHosted =
      !options.forcePathStyle &&
      DNS_BUCKET.test(options.bucket) &&
      isIP(this.origin.hostname.replace(/^\[|\]$/g, '')) === 0;
  }

  async presign(request: PresignRequest): Promise<string> {
    const credentials = await this.options.credentials();
    const now = request.now ?? new Date();
    const amzDate = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const scope = `${day}/${this.options.region}/s3/aws4_request`;
    const host = this.virtualHosted ? `${this.options.bucket}.${this.origin.host}` : this.origin.host;
    const basePath = this.origin.pathname.replace(/\/+$/, '');
    const path = `${basePath}${this.virtualHosted ? '' : `/${encodeSegment(this.options.bucket)}`}/${encodeKey(request.key)}`;
    const query: Record<string, string> = {
      ...request.query,
      'X-Amz-Algorithm': ALGORITHM,
      'X-Amz-Content-Sha256': UNSIGNED_PAYLOAD,
      'X-Amz-Credential': `${credentials.accessKeyId}/${scope}`,
      'X-Amz-Date': amzDate,
      'X-Amz-Expires': String(request.expiresInSeconds),
      'X-Amz-SignedHeaders': 'host',
      ...(credentials.sessionToken === undefined ? {} : { 'X-Amz-Security-Token': credentials.sessionToken }),
    };
    const canonicalQuery = queryString(query);
    const canonicalRequest = [request.method, path, canonicalQuery, `host:${host}`, '', 'host', UNSIGNED_PAYLOAD].join(
      '\n',
    );
    const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
    const signature = createHmac('sha256', this.signingKey(scope, day, credentials.secretAccessKey))
      .update(stringToSign)
      .digest('hex');
    return `${this.origin.protocol}//${host}${path}?${queryString({ ...query, 'X-Amz-Signature': signature })}`;
  }

  private signingKey(scope: string, day: string, secret: string): Buffer {
    if (this.cachedKey?.scope !== scope || this.cachedKey.secret !== secret) {
      const dateKey = hmac(`AWS4${secret}`, day);
      const key = hmac(hmac(hmac(dateKey, this.options.region), 's3'), 'aws4_request');
      this.cachedKey = { scope, secret, key };
    }
    return this.cachedKey.key;
  }
}

// name=value pairs, RFC 3986-encoded, sorted by name
function queryString(query: Readonly<Record<string, string>>): string {
  return Object.keys(query)
    .sort()
    .map((name) => `${encodeSegment(name)}=${encodeSegment(query[name]!)}`)
    .join('&');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}

// RFC 3986: everything but unreserved characters percent-encoded, as SigV4 wants
function encodeSegment(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

// an object key keeps its slashes
function encodeKey(key: string): string {
  return key.split('/').map(encodeSegment).join('/');
}
