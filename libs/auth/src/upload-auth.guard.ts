import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ApiCode, ApiException } from '@koodrive/errors';
import { type AuthenticatedRequest, PRINCIPAL } from './principal.js';
import { RATE_LIMITER, type RateLimiter } from './rate-limiter.js';
import { UPLOAD_SCOPE } from './session-key.js';
import { SESSION_STORE, type SessionStore } from './session.store.js';

// `Bearer <token>`, or KooDrive's documented `Bearer+<token>`.
const BEARER = /^Bearer[ +]([\x21-\x7E]{1,4096})$/i;

@Injectable()
export class UploadAuthGuard implements CanActivate {
  constructor(
    @Inject(SESSION_STORE) private readonly sessions: SessionStore,
    @Inject(RATE_LIMITER) private readonly rateLimiter: RateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context
      .switchToHttp()
      .getRequest<AuthenticatedRequest & { headers: Record<string, string | string[] | undefined> }>();
    const header = request.headers.authorization;
    const token = typeof header === 'string' ? BEARER.exec(header.trim())?.[1] : undefined;
    if (token === undefined) {
      throw new ApiException(ApiCode.InvalidToken);
    }
    const session = await this.sessions.touch(token);
    if (session === null) {
      throw new ApiException(ApiCode.InvalidToken);
    }
    if (!session.scopes.includes(UPLOAD_SCOPE)) {
      throw new ApiException(ApiCode.NoPermission);
    }
    const rate = await this.rateLimiter.consume(session.userId);
    if (!rate.allowed) {
      throw new ApiException(ApiCode.TooManyRequests, { retryAfterSeconds: rate.retryAfterSeconds });
    }
    request[PRINCIPAL] = { userId: session.userId, containerId: session.containerId };
    return true;
  }
}
