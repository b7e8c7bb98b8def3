import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { contextOf } from '@koodrive/context';

// The request's X-Traceid, as its context holds it (the client's when valid, else the one made for it).
export const XTraceid = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const requestContext = contextOf(context.switchToHttp().getRequest<FastifyRequest>().raw);
  if (requestContext === undefined) {
    throw new Error('XTraceid used outside a request the server opened a context for');
  }
  return requestContext.xTraceid;
});
