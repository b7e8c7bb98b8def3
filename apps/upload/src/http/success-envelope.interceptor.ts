import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { type Observable, map } from 'rxjs';
import { ApiCode, message, parseLanguage } from '@koodrive/errors';

// Controllers return their fields; the envelope adds KooDrive's `code` and localized `msg`.
@Injectable()
export class SuccessEnvelopeInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler<object>): Observable<object> {
    const language = parseLanguage(context.switchToHttp().getRequest<FastifyRequest>().headers.language);
    return next
      .handle()
      .pipe(map((body) => ({ code: ApiCode.Success, msg: message(language, ApiCode.Success), ...body })));
  }
}
