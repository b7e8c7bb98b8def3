// Shared field rules for the request DTOs; messages name what is wrong, the pipe adds the field.
// A value of the wrong JSON type is told so first (the pipe prefers the rules that check types:
// the custom ones here are named in its TYPE_RULES), never with a rule about a value it is not.
import { Matches, ValidateBy, type ValidationOptions } from 'class-validator';
import { checkFileName } from '@koodrive/protocol';
import { isUint32 } from '@koodrive/hashing';

export const FILE_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
// no control characters (Postgres refuses NUL; the rest have no place in a name or type)
export const NO_CONTROL = /^[^\x00-\x1F\x7F]*$/;

export const IsFileId = (): PropertyDecorator =>
  Matches(FILE_ID, { message: 'must be 1-64 characters of A-Z, a-z, 0-9, _ or -' });

export const IsSha256 = (): PropertyDecorator => Matches(SHA256_HEX, { message: 'must be 64 hex characters' });

export const HasNoControlCharacters = (): PropertyDecorator =>
  Matches(NO_CONTROL, { message: 'must not contain control characters' });

// KooDrive's fileName rules (@koodrive/protocol: shared with the client); the DTO's transform
// stores the NFC form the rule checked.
export const IsKooDriveFileName = (): PropertyDecorator =>
  ValidateBy({
    name: 'fileName',
    validator: {
      validate: (value: unknown) => checkFileName(value).ok,
      defaultMessage: (args) => {
        const verdict = checkFileName(args?.value);
        return verdict.ok ? 'is valid' : verdict.reason;
      },
    },
  });

// A string or an integer (KooDrive's editions send fileType either way).
export const IsStringOrInteger = (options?: ValidationOptions): PropertyDecorator =>
  ValidateBy(
    {
      name: 'stringOrInteger',
      validator: {
        validate: (value: unknown) => typeof value === 'string' || Number.isSafeInteger(value),
        defaultMessage: () => 'must be a string or an integer',
      },
    },
    options,
  );

// KooDrive's createdTime forms: 2023-08-18T05:43:49Z, 2023-08-18T05:43:49.123Z and the carrier
// edition's 2023-08-18 05:43:49 (UTC); a date that does not exist is refused.
const CREATED_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?(Z?)$/;

export function parseKooDriveTime(value: string): Date | null {
  const match = CREATED_TIME.exec(value);
  if (match === null || (value[10] === 'T') !== (match[8] === 'Z')) {
    return null;
  }
  const [, year, month, day, hour, minute, second, fraction] = match;
  const date = new Date(
    Date.UTC(
      Number(year),
      Number(month) - 1,
      Number(day),
      Number(hour),
      Number(minute),
      Number(second),
      Math.round(Number(`0${fraction ?? ''}`) * 1000),
    ),
  );
  const sameFields =
    date.getUTCFullYear() === Number(year) &&
    date.getUTCMonth() === Number(month) - 1 &&
    date.getUTCDate() === Number(day) &&
    date.getUTCHours() === Number(hour) &&
    date.getUTCMinutes() === Number(minute) &&
    date.getUTCSeconds() === Number(second);
  return sameFields ? date : null;
}

export const IsKooDriveTime = (): PropertyDecorator =>
  ValidateBy({
    name: 'createdTime',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && parseKooDriveTime(value) !== null,
      defaultMessage: () =>
        "must be a valid time as yyyy-MM-dd'T'HH:mm:ss'Z', yyyy-MM-dd'T'HH:mm:ss.SSS'Z' or yyyy-MM-dd HH:mm:ss",
    },
  });

// hashCtx: KooDrive's array of the 8 state words, or this service's first base64-JSON form.
export const HASH_CTX_MESSAGE = 'must be an array of 8 integers from 0 to 4294967295 (or the base64 form)';

export function isHashCtxValue(value: unknown): boolean {
  return (
    (typeof value === 'string' && value.length <= 1024) ||
    (Array.isArray(value) && value.length === 8 && value.every(isUint32))
  );
}
