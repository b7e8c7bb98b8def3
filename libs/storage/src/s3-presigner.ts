// S3 presigned URLs (SigV4 query-string auth) made by @smithy/signature-v4, the AWS SDK's own
// signer, without the SDK's client pipeline per URL (getSignedUrl builds one per call: about
// 0.5 ms of CPU here). The request is the one the SDK's serializer makes: path-style or
// virtual-hosted like the client, the key's segments RFC 3986-encoded, `x-id` named for the
// operation, UNSIGNED-PAYLOAD, only `host` signed; the URL is byte for byte getSignedUrl's
// (s3-presigner.spec.ts).
import { isIP } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { signUploadPartUrls } from './upload-part-urls.js';

type SignerInit = ConstructorParameters<typeof SignatureV4>[0];

export interface PresignerOptions {
  // the endpoint URL the URL's user reaches the store at (https://s3.example.com, http://127.0.0.1:7480)
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly forcePathStyle: boolean;
  // credentials as of now (they may rotate: the SDK's provider chain caches and refreshes them)
  readonly credentials: SignerInit['credentials'];
  // the SHA-256 the SDK's client uses (its config.sha256)
  readonly sha256: SignerInit['sha256'];
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

// a DNS-compatible bucket name, which the SDK addresses virtual-hosted unless told otherwise
const DNS_BUCKET = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const UNSIGNABLE = new Set(['content-type']);

export class S3Presigner {
  private readonly signer: SignatureV4;
  private readonly origin: URL;
  private readonly host: string;
  private readonly basePath: string;

  constructor(private readonly options: PresignerOptions) {
    this.signer = new SignatureV4({
      service: 's3',
      region: options.region,
      credentials: options.credentials,
      sha256: options.sha256,
      // S3 signs the path as sent: no second encoding
      uriEscapePath: false,
      applyChecksum: false,
    });
    this.origin = new URL(options.endpoint);
    // as the SDK does: path style for an IP address, whatever forcePathStyle says
    const virtualHosted =
      !options.forcePathStyle &&
      DNS_BUCKET.test(options.bucket) &&
      isIP(this.origin.hostname.replace(/^\[|\]$/g, '')) === 0;
    this.host = virtualHosted ? `${options.bucket}.${this.origin.host}` : this.origin.host;
    const base = this.origin.pathname.replace(/\/+$/, '');
    this.basePath = virtualHosted ? base : `${base}/${escapeUri(options.bucket)}`;
  }

  async presign(request: PresignRequest): Promise<string> {
    const path = this.pathOf(request.key);
    const signed = await this.signer.presign(
      {
        method: request.method,
        protocol: this.origin.protocol,
        hostname: this.host.replace(/:\d+$/, ''),
        path,
        query: { ...request.query },
        headers: { host: this.host, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' },
      },
      {
        expiresIn: request.expiresInSeconds,
        signingDate: request.now ?? new Date(),
        unsignableHeaders: UNSIGNABLE,
      },
    );
    return `${this.origin.protocol}//${this.host}${path}?${queryString(signed.query ?? {})}`;
  }

  // UploadPart URLs for many parts of one upload at once, each what presign() makes for it (see
  // upload-part-urls.ts: the bulk path a 10,000-part request takes).
  async presignUploadParts(
    key: string,
    uploadId: string,
    partNumbers: readonly number[],
    expiresInSeconds: number,
    now = new Date(),
  ): Promise<string[]> {
    const provider = this.options.credentials;
    const credentials = typeof provider === 'function' ? await provider() : provider;
    const target = { protocol: this.origin.protocol, host: this.host, path: this.pathOf(key) };
    return signUploadPartUrls(target, credentials, this.options.region, uploadId, partNumbers, expiresInSeconds, now);
  }

  private pathOf(key: string): string {
    return `${this.basePath}/${key.split('/').map(escapeUri).join('/')}`;
  }
}

// name=value pairs, RFC 3986-encoded, sorted by name (as the SDK's formatUrl writes them)
function queryString(query: Readonly<Record<string, string | null | (string | null)[]>>): string {
  return Object.keys(query)
    .sort()
    .map((name) => `${escapeUri(name)}=${escapeUri(String(query[name]))}`)
    .join('&');
}

// RFC 3986: everything but unreserved characters percent-encoded, as SigV4 and the SDK want
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
