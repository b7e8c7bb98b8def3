import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, IsString } from 'class-validator';
import { IsFileId, IsSha256 } from './field-rules.js';

export class CompleteUploadDto {
  @ApiProperty({ description: 'the upload task, as create answered it', example: 'Fi0123456789abcdefghijABCDEFGHIJk' })
  @IsString({ message: 'must be a string' })
  @IsFileId()
  fileId!: string;

  @ApiPropertyOptional({
    description: 'SHA-256 the combined file must have (64 hex); else the one given at create; else none',
    pattern: '^[0-9a-fA-F]{64}$',
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @IsSha256()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value))
  sha256?: string;
}
