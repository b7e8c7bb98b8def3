import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { type Observable, map } from 'rxjs';
import { contextOf } from '@koodrive/context';
import { ApiCode, message } from '@koodrive/errors';
import { loggableFileId } from './request-log.js';

// Controllers return their fields; the envelope adds KooDrive's `code` and localized `msg`.
@Injectable()
export class SuccessEnvelopeInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler<object>): Observable<object> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const requestContext = contextOf(request.raw);
    return next.handle().pipe(
      map((body) => {
        if (requestContext !== undefined) {
          requestContext.outcome.code = ApiCode.Success;
          requestContext.outcome.fileId = loggableFileId(
            (body as { fileId?: unknown }).fileId ?? (request.body as { fileId?: unknown } | undefined)?.fileId,
          );
        }
        const language = requestContext?.language ?? 'en-US';
        return { code: ApiCode.Success, msg: message(language, ApiCode.Success), ...body };
      }),
    );
  }
}
