import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { MAX_FILE_LENGTH, MAX_PARTS_PER_REQUEST } from '@koodrive/limits';
import {
  HasNoControlCharacters,
  IsKooDriveFileName,
  IsKooDriveTime,
  IsSha256,
  IsStringOrInteger,
} from './field-rules.js';
import { ArePartRequests } from './part-requests.js';
import { PartRequestDto, PartRequestsDto } from './upload-url.dto.js';

export const AUTO_RENAME_TIMESTAMP = 2;
export const AUTO_RENAME_REJECT = 3;
export const AUTO_RENAME_REUSE = 4;

export const UPLOAD_MODES = ['multipart', 'put'] as const;

const lowerCase = ({ value }: { value: unknown }): unknown => (typeof value === 'string' ? value.toLowerCase() : value);

export class CreateUploadDto extends PartRequestsDto {
  @ApiProperty({
    description:
      'name in the folder: 1-250 characters; no <>|:"*?/\\, control, bidirectional or zero-width characters; not . or ..; stored NFC-normalized',
    minLength: 1,
    maxLength: 250,
    example: 'report.pdf',
  })
  @IsString({ message: 'must be a string' })
  @IsKooDriveFileName()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.normalize('NFC') : value))
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
  @IsString({ message: 'must be a string' })
  @IsSha256()
  @Transform(lowerCase)
  sha256?: string;

  @ApiPropertyOptional({
    description:
      'defined by the business: a string, or the carrier edition\'s integer code ("45" other), stored as a string',
    oneOf: [{ type: 'string', maxLength: 64 }, { type: 'integer' }],
    example: '45',
  })
  @IsOptional()
  @IsStringOrInteger()
  @MaxLength(64, { message: 'must be at most 64 characters' })
  @HasNoControlCharacters()
  @Transform(({ value }: { value: unknown }) => (Number.isSafeInteger(value) ? String(value) : value))
  fileType?: string;

  @ApiPropertyOptional({ enum: UPLOAD_MODES, default: 'multipart', description: 'put: one part, the whole file' })
  @IsOptional()
  @IsString({ message: 'must be multipart or put' })
  @IsIn(UPLOAD_MODES, { message: 'must be multipart or put' })
  uploadMode?: (typeof UPLOAD_MODES)[number];

  @ApiPropertyOptional({
    type: () => [PartRequestDto],
    maxItems: MAX_PARTS_PER_REQUEST,
    description: 'parts to hand out upload URLs for at once, as uploadUrl takes them',
  })
  @ArePartRequests({ required: false })
  multiParts?: PartRequestDto[];

  @ApiPropertyOptional({ description: "lowercase hex SHA-256 of the file's first 1 KiB (stored)" })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @IsSha256()
  @Transform(lowerCase)
  preHash?: string;

  @ApiPropertyOptional({ description: 'proof of possession for a flash upload of content held elsewhere (API.md)' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @IsSha256()
  @Transform(lowerCase)
  proofCode?: string;

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
    description: "client's creation time: yyyy-MM-dd'T'HH:mm:ss'Z', with milliseconds, or yyyy-MM-dd HH:mm:ss (UTC)",
    example: '2023-08-18 05:43:49',
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @IsKooDriveTime()
  createdTime?: string;

  @ApiPropertyOptional({ enum: [1], description: '1: multipart (0 and 2 are not supported yet)' })
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @IsIn([1], { message: 'must be 1 (multipart); 0 and 2 are not supported yet' })
  uploadType?: number;

  @ApiPropertyOptional({
    enum: [2, 3, 4],
    default: 2,
    description:
      '2: add a timestamp on a name clash; 3: reject with 13000405; 4: reuse a completed file of the same name and sha256',
  })
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @IsIn([AUTO_RENAME_TIMESTAMP, AUTO_RENAME_REJECT, AUTO_RENAME_REUSE], { message: 'must be 2, 3 or 4' })
  autoRename?: number;
}
