import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { principalOf } from '@koodrive/auth';
import { parseLanguage } from '@koodrive/errors';
import { redactUrl, resolveXTraceid } from '@koodrive/telemetry';
import { toErrorResponse } from './error-response.js';
import { loggableFileId, noteRequest } from './request-log.js';

// Every error becomes KooDrive's envelope with X-Traceid; unexpected ones are logged, never shown.
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const response = toErrorResponse(error, parseLanguage(request.headers.language));
    const xTraceid = resolveXTraceid(request.raw);
    const body: unknown = request.body;
    noteRequest(request.raw, {
      code: response.body.code,
      userId: principalOf(request)?.userId,
      fileId: loggableFileId(
        typeof body === 'object' && body !== null ? (body as { fileId?: unknown }).fileId : undefined,
      ),
    });
    if (response.unexpected) {
      this.logger.error({
        msg: 'unexpected error',
        xTraceid,
        method: request.method,
        url: redactUrl(request.url),
        err: error,
      });
    }
    void http
      .getResponse<FastifyReply>()
      .status(response.status)
      .headers({ ...response.headers, 'x-traceid': xTraceid })
      .send(response.body);
  }
}
