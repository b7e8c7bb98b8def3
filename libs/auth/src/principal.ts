import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

// The caller, once UploadAuthGuard has authenticated the request, and where it acts.
export interface Principal {
  readonly userId: string;
  // the container the request acts in: the user's own, or the shared folder's
  readonly containerId: string;
  // the shared folder the request acts in (x-hw-share-folder-id); null: the user's own space
  readonly shareFolderId: string | null;
  // what KooDrive's proofCode is seeded from: X-User-Id under app authentication, else the
  // Authorization header's value exactly as sent
  readonly proofSeedSource: string;
}

export const PRINCIPAL = Symbol('koodrive.principal');

export type AuthenticatedRequest = { [PRINCIPAL]?: Principal };

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>()[PRINCIPAL];
  if (principal === undefined) {
    throw new Error('CurrentPrincipal used on a route without UploadAuthGuard');
  }
  return principal;
});

export function principalOf(request: object): Principal | undefined {
  return (request as AuthenticatedRequest)[PRINCIPAL];
}
