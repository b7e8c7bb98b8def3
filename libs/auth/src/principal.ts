import type { IncomingMessage } from 'node:http';
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { contextOf } from '@koodrive/context';
import type { QuotaRecord } from '@koodrive/quota';

// The caller, once UploadAuthGuard has authenticated the request, and where it acts.
export interface Principal {
  readonly userId: string;
  // the container the request acts in: the user's own, or the shared folder's
  readonly containerId: string;
  // the shared folder the request acts in (x-hw-share-folder-id); null: the user's own space
  readonly shareFolderId: string | null;
  // what KooDrive's proofCode is seeded from: X-User-Id under app authentication, else the
  // Authorization header's value exactly as sent when it is spelled as documented (`Bearer <token>`
  // or `Bearer+<token>`); null for any other spelling, which gets no flash upload across containers
  readonly proofSeedSource: string | null;
  // the quota record of containerId as read when the request was admitted; absent when it was not
  // read there (a shared folder, or the in-process admission)
  readonly quota?: QuotaRecord;
}

// Records the caller in the request's context (the guard does, once it has authenticated it).
export function setPrincipal(request: IncomingMessage, principal: Principal): void {
  const context = contextOf(request);
  if (context === undefined) {
    throw new Error('no request context: the server opens one for every request');
  }
  context.principal = principal;
  context.outcome.userId = principal.userId;
}

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = contextOf(ctx.switchToHttp().getRequest<{ raw: IncomingMessage }>().raw)?.principal;
  if (principal === undefined) {
    throw new Error('CurrentPrincipal used on a route without UploadAuthGuard');
  }
  return principal as Principal;
});
