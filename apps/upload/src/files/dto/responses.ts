// The answers, described for the OpenAPI document (the services return plain objects; the
// envelope interceptor adds code and msg).
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class SuccessEnvelope {
  @ApiProperty({ example: 0, description: '0 on success' })
  code!: number;

  @ApiProperty({ example: 'success.', description: 'localized by the language header' })
  msg!: string;
}

export class ErrorEnvelope {
  @ApiProperty({ example: 13000102, description: 'a KooDrive error code (see the responses)' })
  code!: number;

  @ApiProperty({ example: 'Invalid parameter: fileId must be a string.' })
  msg!: string;
}

export class CreateUploadResponse extends SuccessEnvelope {
  @ApiProperty({ example: 'Fi0123456789abcdefghijABCDEFGHIJk' })
  fileId!: string;

  @ApiProperty({ description: "the storage's multipart upload id; empty when none is needed (rapidUpload, exist)" })
  uploadId!: string;

  @ApiProperty({ description: 'the name the file got (with a timestamp on a clash, autoRename 2)' })
  fileName!: string;

  @ApiProperty({ type: [String] })
  parentFolder!: string[];

  @ApiProperty()
  containerId!: string;

  @ApiProperty({ description: 'the content is held already: the file is complete, upload nothing' })
  rapidUpload!: boolean;

  @ApiPropertyOptional({ description: 'autoRename 4 found a completed file of that name and sha256' })
  exist?: boolean;
}

export class PartUrlResponse {
  @ApiProperty()
  partNumber!: number;

  @ApiProperty()
  partSize!: number;

  @ApiProperty({ nullable: true, type: Number })
  partOffset!: number | null;

  @ApiProperty()
  partId!: string;

  @ApiProperty({
    description:
      "PUT the part's bytes here with Content-Length and no other header: an S3 presigned URL, or this service's own signed URL (uploadVia service)",
  })
  uploadUrl!: string;

  @ApiProperty({ enum: ['s3', 'service'], description: 'where uploadUrl points' })
  uploadVia!: 's3' | 'service';

  @ApiProperty({ format: 'date-time' })
  expiresAt!: string;
}

export class UploadUrlResponse extends SuccessEnvelope {
  @ApiProperty({ type: () => [PartUrlResponse] })
  multiParts!: PartUrlResponse[];
}

export class CompleteUploadResponse extends SuccessEnvelope {
  @ApiProperty()
  fileId!: string;

  @ApiProperty({ description: 'SHA-256 of the combined file' })
  sha256!: string;

  @ApiProperty()
  length!: number;
}

export class PartUploadResponse extends SuccessEnvelope {
  @ApiProperty()
  partNumber!: number;

  @ApiProperty({ description: "the stored part's ETag (also in the ETag header)" })
  etag!: string;

  @ApiProperty()
  size!: number;
}
