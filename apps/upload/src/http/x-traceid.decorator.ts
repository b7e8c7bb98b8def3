import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { resolveXTraceid } from '@koodrive/telemetry';

// The request's X-Traceid: the client's when valid, else the one this service made for it.
export const XTraceid = createParamDecorator((_data: unknown, context: ExecutionContext): string =>
  resolveXTraceid(context.switchToHttp().getRequest<FastifyRequest>().raw),
);
