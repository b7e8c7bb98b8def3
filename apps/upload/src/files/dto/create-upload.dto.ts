import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
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
import { MAX_FILE_LENGTH } from '@koodrive/limits';
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
  @ApiProperty({
    description: 'name in the folder; no <>|:"*?/\\ or control characters',
    minLength: 1,
    maxLength: 250,
    example: 'report.pdf',
  })
  @IsString({ message: 'must be a string' })
  @Length(1, 250, { message: 'must be 1-250 characters' })
  @Matches(/^[^<>|:"*?/\\\x00-\x1F\x7F]*$/, { message: 'must not contain <>|:"*?/\\ or control characters' })
  @NotEquals('.', { message: 'must not be . or ..' })
  @NotEquals('..', { message: 'must not be . or ..' })
  fileName!: string;

  @ApiProperty({ description: 'file size in bytes', minimum: 0, maximum: MAX_FILE_LENGTH, example: 6291456 })
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: `must be 0 to ${MAX_FILE_LENGTH}` })
  @Max(MAX_FILE_LENGTH, { message: `must be 0 to ${MAX_FILE_LENGTH}` })
  length!: number;

  @ApiPropertyOptional({
    description: 'folder ids; the first is the target folder (default root)',
    type: [String],
    example: ['root'],
  })
  @IsOptional()
  @IsArray({ message: 'must be an array of folder ids' })
  @ArrayMaxSize(100, { message: 'must hold at most 100 folder ids' })
  @Matches(/^[A-Za-z0-9_-]{1,128}$/, {
    each: true,
    message: 'must hold folder ids of 1-128 characters A-Z, a-z, 0-9, _ or -',
  })
  parentFolder?: string[];

  @ApiPropertyOptional({
    description: 'SHA-256 (64 hex) complete will check against; with it, content already held is a flash upload',
    pattern: '^[0-9a-fA-F]{64}$',
  })
  @IsOptional()
  @IsSha256()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value))
  sha256?: string;

  @ApiPropertyOptional({ maxLength: 128 })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(128, { message: 'must be at most 128 characters' })
  @HasNoControlCharacters()
  fileType?: string;

  @ApiPropertyOptional({ maxLength: 255, example: 'application/pdf' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(255, { message: 'must be at most 255 characters' })
  @HasNoControlCharacters()
  mimeType?: string;

  @ApiPropertyOptional({ maxLength: 512 })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(512, { message: 'must be at most 512 characters' })
  @Matches(/^[^\x00]*$/, { message: 'must not contain NUL characters' })
  description?: string;

  @ApiPropertyOptional({
    description: "client's creation time, yyyy-MM-dd'T'HH:mm:ss'Z'",
    example: '2026-11-24T10:00:00Z',
  })
  @IsOptional()
  @Validate(IsKooDriveTime)
  createdTime?: string;

  @ApiPropertyOptional({ enum: [1], description: '1: multipart' })
  @IsOptional()
  @IsIn([1], { message: 'must be 1 (multipart)' })
  uploadType?: number;

  @ApiPropertyOptional({
    enum: [2, 3, 4],
    default: 2,
    description:
      '2: add a timestamp on a name clash; 3: reject with 13000405; 4: reuse a completed file of the same name and sha256',
  })
  @IsOptional()
  @IsIn([AUTO_RENAME_TIMESTAMP, AUTO_RENAME_REJECT, AUTO_RENAME_REUSE], { message: 'must be 2, 3 or 4' })
  autoRename?: number;
}
