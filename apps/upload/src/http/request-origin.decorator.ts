import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

// scheme://host[:port] the client reached this service at (behind a proxy: its X-Forwarded-Proto
// and X-Forwarded-Host, as the adapter trusts them). PUBLIC_URL, when set, takes precedence.
export const RequestOrigin = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  return `${request.protocol}://${request.host}`;
});
