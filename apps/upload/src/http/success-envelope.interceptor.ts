import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { type Observable, map } from 'rxjs';
import { principalOf } from '@koodrive/auth';
import { ApiCode, message, parseLanguage } from '@koodrive/errors';
import { loggableFileId, noteRequest } from './request-log.js';

// Controllers return their fields; the envelope adds KooDrive's `code` and localized `msg`.
@Injectable()
export class SuccessEnvelopeInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler<object>): Observable<object> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const language = parseLanguage(request.headers.language);
    return next.handle().pipe(
      map((body) => {
        noteRequest(request.raw, {
          code: ApiCode.Success,
          userId: principalOf(request)?.userId,
          fileId: loggableFileId(
            (body as { fileId?: unknown }).fileId ?? (request.body as { fileId?: unknown } | undefined)?.fileId,
          ),
        });
        return { code: ApiCode.Success, msg: message(language, ApiCode.Success), ...body };
      }),
    );
  }
}
