import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiException } from '@koodrive/errors';

// a host name, IPv4 or [IPv6] address, and an optional port: nothing else may shape a URL we hand out
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

// scheme://host[:port] the client reached this service at, for its part URLs when PUBLIC_URL is
// unset: the connection's own scheme and Host, or X-Forwarded-Proto/-Host from a proxy in
// TRUST_PROXY (the adapter believes them from nobody else).
export const RequestOrigin = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  const { protocol, host } = request;
  if ((protocol !== 'http' && protocol !== 'https') || !HOST.test(host)) {
    throw ApiException.invalidParameter('Host: must be a host name and port (or set PUBLIC_URL)');
  }
  return `${protocol}://${host}`;
});
