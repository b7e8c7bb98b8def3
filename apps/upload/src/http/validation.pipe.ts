import { Injectable, type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import { ApiCode, ApiException } from '@koodrive/errors';
import { checkPartRequests, partRequestsRule } from '../files/dto/part-requests.js';

// The rules that check a value's JSON type (class-validator's, and the DTOs' own in
// files/dto/field-rules.ts): when one fails, it is the one reported.
const TYPE_RULES = new Set(['isString', 'isInt', 'isArray', 'isBoolean', 'nestedValidation', 'stringOrInteger']);

// Bodies must be JSON objects (else 13000101); fields are checked by the DTO's decorators
// (else 13000102 naming the first field at fault and, when its JSON type is wrong, what type it
// must have), a list of parts by checkPartRequests in one pass. Unknown fields are dropped, not stored.
@Injectable()
export class ApiValidationPipe extends ValidationPipe {
  constructor() {
    super({
      transform: true,
      whitelist: true,
      forbidUnknownValues: true,
      // every failing rule of a field is known, so its type error can be the one told
      stopAtFirstError: false,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => ApiException.invalidParameter(describe(errors)),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'body') {
      return super.transform(value, metadata);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ApiException(ApiCode.RequestError);
    }
    const rule = partRequestsRule(metadata.metatype);
    if (rule === undefined) {
      return super.transform(value, metadata);
    }
    // the list never reaches class-transformer and class-validator (see part-requests.ts)
    const { [rule.property]: parts, ...fields } = value as Record<string, unknown>;
    const dto = (await super.transform(fields, metadata)) as Record<string, unknown>;
    const checked = checkPartRequests(parts, rule.required, rule.property);
    if (checked !== undefined) {
      dto[rule.property] = checked;
    }
    return dto;
  }
}

function describe(errors: readonly ValidationError[], path = ''): string {
  const first = errors[0];
  if (first === undefined) {
    return 'invalid body';
  }
  const field = /^\d+$/.test(first.property)
    ? `${path}[${first.property}]`
    : path
      ? `${path}.${first.property}`
      : first.property;
  const constraints = Object.entries(first.constraints ?? {});
  const constraint = (constraints.find(([rule]) => TYPE_RULES.has(rule)) ?? constraints[0])?.[1];
  if (constraint !== undefined) {
    return `${field}: ${constraint}`;
  }
  return describe(first.children ?? [], field);
}
