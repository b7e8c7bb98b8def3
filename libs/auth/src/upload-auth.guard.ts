// Authenticates every API call under either of KooDrive's schemes (API.md, "Credentials") and
// resolves where it acts: a session token (`Bearer <token>` / `Bearer+<token>`, a session record in
// Redis) or app authentication (`HMAC-SHA256 AppId=…`, the user from X-User-Id). Both end in one
// Principal. Every authentication failure is 401/13000901; why goes to the log, never the answer.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type CanActivate, type ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { contextOf } from '@koodrive/context';
import { ApiCode, ApiException } from '@koodrive/errors';
import {
  APP_AUTH_SCHEME,
  parseAppAuthorization,
  parseXDate,
  verifyAppSignature,
  X_DATE_MAX_AGE_MS,
  X_DATE_MAX_SKEW_MS,
  xDateVerdict,
} from '@koodrive/protocol';
import { ADMISSION, type Admission, type OwnQuota } from './admission.js';
import { type Principal, setPrincipal } from './principal.js';
import { type RateDecision, requestUnits } from './rate-limiter.js';
import { type SharedFolderGrant, UPLOAD_SCOPE } from '@koodrive/protocol';

// `Bearer <token>`, or KooDrive's documented `Bearer+<token>`; any letter case authenticates.
const BEARER = /^Bearer[ +]([\x21-\x7E]{1,4096})$/i;
// The spellings a proofCode may be seeded from: `Bearer` in exactly that case, one separator. Each
// other accepted spelling would move the proof's window, letting a caller pick among many.
const PROOF_SEED_BEARER = /^Bearer[ +][\x21-\x7E]{1,4096}$/;
const USER_ID = /^[A-Za-z0-9_.@:-]{1,128}$/;
const SHARE_FOLDER_HEADER = 'x-hw-share-folder-id';
const FOLDER_ID = /^[A-Za-z0-9_-]{1,128}$/;
// a signature is remembered as long as its X-Date could still pass, with room for the replicas'
// clocks to differ
const REPLAY_WINDOW_SECONDS = Math.ceil((X_DATE_MAX_AGE_MS + X_DATE_MAX_SKEW_MS) / 1000) + 120;

// Who is calling, before where it acts is resolved, and the request counted against the user.
interface Caller {
  readonly userId: string;
  readonly containerId: string;
  readonly scopes: readonly string[];
  readonly sharedFolders: readonly SharedFolderGrant[];
  readonly proofSeedSource: string | null;
  readonly rate: RateDecision;
  readonly ownQuota: OwnQuota | undefined;
}

type Request = {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly raw: IncomingMessage;
  readonly body?: unknown;
};

class AuthenticationFailed extends Error {}

@Injectable()
export class UploadAuthGuard implements CanActivate {
  private readonly logger = new Logger(UploadAuthGuard.name);

  constructor(
    @Inject(ADMISSION) private readonly admission: Admission,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    const header = request.headers.authorization;
    const units = requestUnits(partsListed(request.body));
    let caller: Caller;
    try {
      caller =
        typeof header === 'string' && header.startsWith(`${APP_AUTH_SCHEME} `)
          ? await this.appCaller(request, header, units)
          : await this.sessionCaller(header, units);
    } catch (error) {
      if (error instanceof AuthenticationFailed) {
        this.logger.warn({ msg: 'authentication refused', reason: error.message });
        throw new ApiException(ApiCode.InvalidToken);
      }
      throw error;
    }
    if (!caller.scopes.includes(UPLOAD_SCOPE)) {
      throw new ApiException(ApiCode.NoPermission, { detail: `the credentials lack the ${UPLOAD_SCOPE} scope` });
    }
    if (!caller.rate.allowed) {
      throw new ApiException(ApiCode.TooManyRequests, { retryAfterSeconds: caller.rate.retryAfterSeconds });
    }
    setPrincipal(request.raw, principalIn(caller, request.headers[SHARE_FOLDER_HEADER]));
    return true;
  }

  private async sessionCaller(header: string | undefined, units: number): Promise<Caller> {
    const token = header === undefined ? undefined : BEARER.exec(header.trim())?.[1];
    if (token === undefined) {
      throw new AuthenticationFailed('no Bearer token');
    }
    const admitted = await this.admission.session(token, units);
    if (admitted === null) {
      throw new AuthenticationFailed('unknown or expired session');
    }
    const { session, rate, ownQuota } = admitted;
    const proofSeedSource = PROOF_SEED_BEARER.test(header!) ? header! : null;
    return { ...session, sharedFolders: session.sharedFolders ?? [], proofSeedSource, rate, ownQuota };
  }

  private async appCaller(request: Request, header: string, units: number): Promise<Caller> {
    const authorization = parseAppAuthorization(header);
    if (authorization === null) {
      throw new AuthenticationFailed('malformed app Authorization');
    }
    const app = this.config.appCredentials.get(authorization.appId);
    if (app === undefined) {
      throw new AuthenticationFailed(`unknown app ${authorization.appId}`);
    }
    const xDate = parseXDate(String(request.headers['x-date']));
    const age = xDate === null ? 'malformed' : xDateVerdict(xDate, new Date());
    if (age !== 'ok') {
      throw new AuthenticationFailed(`app ${authorization.appId}: X-Date ${age}`);
    }
    const userId = request.headers['x-user-id'];
    if (typeof userId !== 'string' || !USER_ID.test(userId)) {
      throw new AuthenticationFailed(`app ${authorization.appId}: X-User-Id missing or malformed`);
    }
    const queryAt = request.url.indexOf('?');
    const [path, query] =
      queryAt < 0 ? [request.url, ''] : [request.url.slice(0, queryAt), request.url.slice(queryAt + 1)];
    const verdict = verifyAppSignature({
      authorization,
      secret: app.secret,
      method: request.method,
      path,
      query,
      headers: request.headers,
      payloadSha256Hex: createHash('sha256')
        .update(contextOf(request.raw)?.rawBody ?? Buffer.alloc(0))
        .digest('hex'),
    });
    if (!verdict.ok) {
      throw new AuthenticationFailed(`app ${authorization.appId}: ${verdict.reason}`);
    }
    const admitted = await this.admission.app(
      `${authorization.appId}:${authorization.signature}`,
      REPLAY_WINDOW_SECONDS,
      userId,
      units,
    );
    if (admitted.kind === 'replayed') {
      throw new AuthenticationFailed(`app ${authorization.appId}: signature replayed`);
    }
    if (admitted.kind === 'no-user') {
      throw new ApiException(ApiCode.NoPermission, { detail: 'no such user' });
    }
    const { user, rate, ownQuota } = admitted;
    return {
      ownQuota,
      userId,
      containerId: user.containerId,
      scopes: app.scopes,
      sharedFolders: user.sharedFolders ?? [],
      proofSeedSource: userId,
      rate,
    };
  }
}

// Where the caller acts: its own container, or a shared folder it holds file.upload in.
function principalIn(caller: Caller, shareFolderHeader: string | string[] | undefined): Principal {
  const base = { userId: caller.userId, proofSeedSource: caller.proofSeedSource };
  if (shareFolderHeader === undefined) {
    const own = { ...base, containerId: caller.containerId, shareFolderId: null };
    return caller.ownQuota === undefined ? own : { ...own, quota: caller.ownQuota };
  }
  if (typeof shareFolderHeader !== 'string' || !FOLDER_ID.test(shareFolderHeader)) {
    throw ApiException.invalidParameter(`${SHARE_FOLDER_HEADER}: must be 1-128 characters A-Z, a-z, 0-9, _ or -`);
  }
  const grant = caller.sharedFolders.find((folder) => folder.folderId === shareFolderHeader);
  if (grant === undefined || !grant.scopes.includes(UPLOAD_SCOPE)) {
    throw new ApiException(ApiCode.NoPermission, { detail: 'the shared folder is not granted for upload' });
  }
  return { ...base, containerId: grant.containerId, shareFolderId: grant.folderId };
}

// How many parts a create or uploadUrl body lists (what its rate-limit units weigh); 0 for any other.
function partsListed(body: unknown): number {
  const parts = typeof body === 'object' && body !== null ? (body as { multiParts?: unknown }).multiParts : undefined;
  return Array.isArray(parts) ? parts.length : 0;
}
