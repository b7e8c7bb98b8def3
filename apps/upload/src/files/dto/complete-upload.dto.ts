import { Transform } from 'class-transformer';
import { IsOptional, IsString } from 'class-validator';
import { IsFileId, IsSha256 } from './field-rules.js';

export class CompleteUploadDto {
  @IsString({ message: 'must be a string' })
  @IsFileId()
  fileId!: string;

  @IsOptional()
  @IsSha256()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value))
  sha256?: string;
}
