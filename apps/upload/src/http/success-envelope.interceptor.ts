import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { type Observable, mergeMap } from 'rxjs';
import { contextOf } from '@koodrive/context';
import { ApiCode, message } from '@koodrive/errors';
import { serializeLongLists } from './large-answers.js';
import { loggableFileId } from './request-log.js';

// Controllers return their fields; the envelope adds KooDrive's `code` and localized `msg`. A long
// list (a 10,000-part answer) is serialized a slice at a time (large-answers.ts).
@Injectable()
export class SuccessEnvelopeInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler<object>): Observable<object> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const requestContext = contextOf(request.raw);
    return next.handle().pipe(
      mergeMap((body) => {
        if (requestContext !== undefined) {
          requestContext.outcome.code = ApiCode.Success;
          requestContext.outcome.fileId = loggableFileId(
            (body as { fileId?: unknown }).fileId ?? (request.body as { fileId?: unknown } | undefined)?.fileId,
          );
        }
        const language = requestContext?.language ?? 'en-US';
        return serializeLongLists({ code: ApiCode.Success, msg: message(language, ApiCode.Success), ...body });
      }),
    );
  }
}
