import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  NotEquals,
  Validate,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { MAX_FILE_LENGTH } from '../upload-limits.js';
import { HasNoControlCharacters, IsSha256 } from './field-rules.js';

export const AUTO_RENAME_TIMESTAMP = 2;
export const AUTO_RENAME_REJECT = 3;
export const AUTO_RENAME_REUSE = 4;

const CREATED_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

@ValidatorConstraint({ name: 'createdTime' })
class IsKooDriveTime implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'string' || !CREATED_TIME.test(value)) {
      return false;
    }
    const date = new Date(value);
    return !Number.isNaN(date.getTime()) && date.toISOString().replace('.000Z', 'Z') === value;
  }

  defaultMessage(): string {
    return "must be a valid time as yyyy-MM-dd'T'HH:mm:ss'Z'";
  }
}

export class CreateUploadDto {
  @IsString({ message: 'must be a string' })
  @Length(1, 250, { message: 'must be 1-250 characters' })
  @Matches(/^[^<>|:"*?/\\\x00-\x1F\x7F]*$/, { message: 'must not contain <>|:"*?/\\ or control characters' })
  @NotEquals('.', { message: 'must not be . or ..' })
  @NotEquals('..', { message: 'must not be . or ..' })
  fileName!: string;

  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: `must be 0 to ${MAX_FILE_LENGTH}` })
  @Max(MAX_FILE_LENGTH, { message: `must be 0 to ${MAX_FILE_LENGTH}` })
  length!: number;

  @IsOptional()
  @IsArray({ message: 'must be an array of folder ids' })
  @ArrayMaxSize(100, { message: 'must hold at most 100 folder ids' })
  @Matches(/^[A-Za-z0-9_-]{1,128}$/, {
    each: true,
    message: 'must hold folder ids of 1-128 characters A-Z, a-z, 0-9, _ or -',
  })
  parentFolder?: string[];

  @IsOptional()
  @IsSha256()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value))
  sha256?: string;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(128, { message: 'must be at most 128 characters' })
  @HasNoControlCharacters()
  fileType?: string;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(255, { message: 'must be at most 255 characters' })
  @HasNoControlCharacters()
  mimeType?: string;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(512, { message: 'must be at most 512 characters' })
  @Matches(/^[^\x00]*$/, { message: 'must not contain NUL characters' })
  description?: string;

  @IsOptional()
  @Validate(IsKooDriveTime)
  createdTime?: string;

  @IsOptional()
  @IsIn([1], { message: 'must be 1 (multipart)' })
  uploadType?: number;

  @IsOptional()
  @IsIn([AUTO_RENAME_TIMESTAMP, AUTO_RENAME_REJECT, AUTO_RENAME_REUSE], { message: 'must be 2, 3 or 4' })
  autoRename?: number;
}
