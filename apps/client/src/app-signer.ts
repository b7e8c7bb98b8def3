// App authentication (API.md, "App authentication") on the client's side: each request signed as
// it is sent, over host, x-date, x-user-id, content-type and any x-hw-* header. The service refuses
// a signature it has seen, and two identical requests signed within one second (a quick retry, a
// part's URL asked for again) would carry the same one: the later waits for the next second, whose
// X-Date makes it new.
import { formatXDate, signAppRequest } from '@koodrive/protocol';
import { type Authenticate, bearer, type OutgoingCall, pause } from '@koodrive/upload-client';

export interface AppCredentials {
  readonly appId: string;
  readonly secret: string;
  readonly userId: string;
}

// How every call proves who it is for (API.md, "Credentials").
export type Credentials =
  { readonly kind: 'token'; readonly token: string } | ({ readonly kind: 'app' } & AppCredentials);

// The credentials as the core's calls take them: a bearer token, or each attempt signed.
export function authenticatorFor(credentials: Credentials, signal?: AbortSignal): Authenticate {
  if (credentials.kind === 'token') {
    return bearer(credentials.token);
  }
  const signer = new AppSigner(credentials);
  return (call) => signer.sign(call, signal);
}

export type SignedRequest = Pick<OutgoingCall, 'url' | 'contentType' | 'body'> & {
  // signed and sent beside the rest (x-hw-share-folder-id: every x-hw-* header must be signed)
  readonly headers?: Readonly<Record<string, string>>;
};

export class AppSigner {
  // the signatures handed out in the second `second` (a signature of an earlier second differs in
  // its X-Date, so those need not be remembered)
  private second = '';
  private readonly used = new Set<string>();

  constructor(
    private readonly credentials: AppCredentials,
    private readonly now: () => number = Date.now,
  ) {}

  // The headers that authenticate the request: Authorization, X-Date and X-User-Id. Host is signed
  // as fetch sends it (the URL's host; fetch does not let a caller set it).
  async sign(request: SignedRequest, signal?: AbortSignal): Promise<Record<string, string>> {
    const { appId, secret, userId } = this.credentials;
    for (;;) {
      const now = this.now();
      const xDate = formatXDate(new Date(now));
      const { authorization } = signAppRequest({
        appId,
        secret,
        method: 'POST',
        path: request.url.pathname,
        query: request.url.search.slice(1),
        headers: {
          ...request.headers,
          host: request.url.host,
          'x-date': xDate,
          'x-user-id': userId,
          'content-type': request.contentType,
        },
        // the x-hw-* headers too (the service refuses a request that carries one unsigned)
        signedHeaders: ['content-type', ...Object.keys(request.headers ?? {})],
        body: request.body,
      });
      if (xDate !== this.second) {
        this.second = xDate;
        this.used.clear();
      }
      if (!this.used.has(authorization)) {
        this.used.add(authorization);
        return { authorization, 'x-date': xDate, 'x-user-id': userId };
      }
      await pause(1000 - (now % 1000), signal);
    }
  }
}
