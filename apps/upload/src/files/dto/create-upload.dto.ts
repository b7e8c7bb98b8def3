import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { HasNoControlCharacters, IsKooDriveFileName, IsStringOrInteger } from './field-rules.js';
import { UploadContentDto } from './upload-content.dto.js';

export const AUTO_RENAME_TIMESTAMP = 2;
export const AUTO_RENAME_REJECT = 3;
export const AUTO_RENAME_REUSE = 4;

// create: new content under a name in a folder (the content's fields are UploadContentDto's)
export class CreateUploadDto extends UploadContentDto {
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

  @ApiPropertyOptional({ maxLength: 512 })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(512, { message: 'must be at most 512 characters' })
  @Matches(/^[^\x00]*$/, { message: 'must not contain NUL characters' })
  description?: string;

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
