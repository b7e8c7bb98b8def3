import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { contextOf } from '@koodrive/context';
import { redactUrl } from '@koodrive/telemetry';
import { toErrorResponse } from './error-response.js';
import { loggableFileId } from './request-log.js';

// Every error becomes KooDrive's envelope with X-Traceid; unexpected ones are logged, never shown.
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const context = contextOf(request.raw);
    const response = toErrorResponse(error, context?.language ?? 'en-US', request);
    if (context !== undefined) {
      const body: unknown = request.body;
      context.outcome.code = response.body.code;
      context.outcome.fileId ??= loggableFileId(
        typeof body === 'object' && body !== null ? (body as { fileId?: unknown }).fileId : undefined,
      );
    }
    if (response.unexpected) {
      this.logger.error({
        msg: 'unexpected error',
        xTraceid: context?.xTraceid,
        method: request.method,
        url: redactUrl(request.url),
        err: error,
      });
    }
    void http
      .getResponse<FastifyReply>()
      .status(response.status)
      // X-Traceid was set as the request came in
      .headers(response.headers)
      .send(response.body);
  }
}
