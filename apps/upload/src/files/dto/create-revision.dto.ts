// KooDrive's createRevision body (API.md, "New versions of a file"); completeRevision's is complete's.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Matches } from 'class-validator';
import { IsFileId } from './field-rules.js';
import { UploadContentDto } from './upload-content.dto.js';

export const KEEP_POLICIES = [0, 1] as const;

// createRevision: new content for a completed file (the content's fields are create's)
export class CreateRevisionDto extends UploadContentDto {
  @ApiProperty({
    description: 'the completed file to upload a new version of',
    example: 'Fi0123456789abcdefghijABCDEFGHIJk',
  })
  @IsString({ message: 'must be a string' })
  @IsFileId()
  fileId!: string;

  @ApiProperty({ description: "the file's container (KooDrive requires it; another is 13000401)" })
  @IsString({ message: 'must be a string' })
  @Matches(/^[^\x00-\x1F\x7F]{1,128}$/, { message: 'must be 1-128 characters, no control characters' })
  containerId!: string;

  @ApiPropertyOptional({
    enum: KEEP_POLICIES,
    default: 0,
    description: '0: history KooDrive may clear by its rules; 1: kept forever. Stored with the version',
  })
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @IsIn(KEEP_POLICIES, { message: 'must be 0 or 1' })
  keepPolicy?: number;
}
