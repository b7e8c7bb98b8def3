// The fields of a request for new content, create's and createRevision's alike (API.md: createRevision
// takes them "as in create"): one set of rules for both.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { MAX_FILE_LENGTH, MAX_PARTS_PER_REQUEST } from '@koodrive/limits';
import { HasNoControlCharacters, IsKooDriveTime, IsSha256 } from './field-rules.js';
import { ArePartRequests } from './part-requests.js';
import { PartRequestDto, PartRequestsDto } from './upload-url.dto.js';

export const UPLOAD_MODES = ['multipart', 'put'] as const;

const lowerCase = ({ value }: { value: unknown }): unknown => (typeof value === 'string' ? value.toLowerCase() : value);

export class UploadContentDto extends PartRequestsDto {
  @ApiProperty({ description: 'file size in bytes', minimum: 0, maximum: MAX_FILE_LENGTH, example: 6291456 })
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: `must be 0 to ${MAX_FILE_LENGTH}` })
  @Max(MAX_FILE_LENGTH, { message: `must be 0 to ${MAX_FILE_LENGTH}` })
  length!: number;

  @ApiPropertyOptional({
    description: 'SHA-256 (64 hex) complete will check against; with it, content already held is a flash upload',
    pattern: '^[0-9a-fA-F]{64}$',
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @IsSha256()
  @Transform(lowerCase)
  sha256?: string;

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
}
