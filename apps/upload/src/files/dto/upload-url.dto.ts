import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { MAX_FILE_LENGTH, MAX_PARTS, MAX_PARTS_PER_REQUEST, MAX_PART_SIZE } from '@koodrive/limits';
import { IsFileId } from './field-rules.js';

export class PartRequestDto {
  @ApiProperty({ minimum: 1, maximum: MAX_PARTS })
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: `must be 1 to ${MAX_PARTS}` })
  @Max(MAX_PARTS, { message: `must be 1 to ${MAX_PARTS}` })
  partNumber!: number;

  @ApiProperty({ description: 'bytes; every part but the last at least 5 MiB', minimum: 0, maximum: MAX_PART_SIZE })
  // the 5 MiB minimum depends on whether this is the file's last part: checked by the service
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: `must be 0 to ${MAX_PART_SIZE}` })
  @Max(MAX_PART_SIZE, { message: `must be 0 to ${MAX_PART_SIZE}` })
  partSize!: number;

  @ApiPropertyOptional({ description: 'offset of the part in the file', minimum: 0 })
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: `must be 0 to ${MAX_FILE_LENGTH}` })
  @Max(MAX_FILE_LENGTH, { message: `must be 0 to ${MAX_FILE_LENGTH}` })
  partOffset?: number;

  @ApiPropertyOptional({
    description: 'parallel mode: base64 JSON of the SHA-256 state before this part (see API.md)',
    maxLength: 1024,
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(1024, { message: 'must be at most 1024 characters' })
  hashCtx?: string;
}

export class UploadUrlDto {
  @ApiProperty({ example: 'Fi0123456789abcdefghijABCDEFGHIJk' })
  @IsString({ message: 'must be a string' })
  @IsFileId()
  fileId!: string;

  @ApiProperty({ type: () => [PartRequestDto], minItems: 1, maxItems: MAX_PARTS_PER_REQUEST })
  @IsArray({ message: 'must be an array' })
  @ArrayMinSize(1, { message: 'must hold at least one part' })
  @ArrayMaxSize(MAX_PARTS_PER_REQUEST, { message: `must hold at most ${MAX_PARTS_PER_REQUEST} parts` })
  @ValidateNested({ each: true })
  @Type(() => PartRequestDto)
  multiParts!: PartRequestDto[];

  // this service's addition to KooDrive's request
  @ApiPropertyOptional({
    enum: ['s3', 'service'],
    description:
      "where to PUT the parts: straight to S3 (presigned) or through this service, which hashes each part as it streams it to S3 so complete needs no read-back (parallel mode). Default: the deployment's PART_UPLOAD_VIA",
  })
  @IsOptional()
  @IsIn(['s3', 'service'], { message: 'must be s3 or service' })
  uploadVia?: 's3' | 'service';
}
