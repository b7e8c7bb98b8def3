// Shared field rules for the request DTOs; messages name what is wrong, the pipe adds the field.
import { Matches } from 'class-validator';

export const FILE_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
// no control characters (Postgres refuses NUL; the rest have no place in a name or type)
export const NO_CONTROL = /^[^\x00-\x1F\x7F]*$/;

export const IsFileId = (): PropertyDecorator =>
  Matches(FILE_ID, { message: 'must be 1-64 characters of A-Z, a-z, 0-9, _ or -' });

export const IsSha256 = (): PropertyDecorator => Matches(SHA256_HEX, { message: 'must be 64 hex characters' });

export const HasNoControlCharacters = (): PropertyDecorator =>
  Matches(NO_CONTROL, { message: 'must not contain control characters' });
