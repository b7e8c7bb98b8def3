import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

export interface Principal {
  readonly userId: string;
  readonly containerId: string;
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

// The caller, once UploadAuthGuard has authenticated the request.
export function principalOf(request: object): Principal | undefined {
  return (request as AuthenticatedRequest)[PRINCIPAL];
}
