import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseLanguage } from '@koodrive/errors';
import { resolveXTraceid } from '@koodrive/telemetry';
import { toErrorResponse } from './error-response.js';

@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendError(error, http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>(), this.logger);
  }
}

export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply, logger: Logger): void {
  const response = toErrorResponse(error, parseLanguage(request.headers.language));
  const xTraceid = resolveXTraceid(request.raw);
  if (response.unexpected) {
    logger.error({ msg: 'unexpected error', xTraceid, method: request.method, url: request.url, err: error });
  }
  void reply
    .status(response.status)
    .headers({ ...response.headers, 'x-traceid': xTraceid })
    .send(response.body);
}
