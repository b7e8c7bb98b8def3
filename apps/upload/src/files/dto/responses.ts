// The answers, described for the OpenAPI document (the services return plain objects; the
// envelope interceptor adds code and msg).
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { SuccessEnvelope } from '../../http/envelope.dto.js';

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

  @ApiProperty({ description: 'autoRename 4 found a completed file of that name and sha256 (always present)' })
  exist!: boolean;

  @ApiProperty({
    type: () => [PartUrlResponse],
    description: 'the URLs of the parts asked for (multiParts), or of the one part of uploadMode put; [] otherwise',
  })
  multiParts!: PartUrlResponse[];
}

export class PartUrlResponse {
  @ApiProperty()
  partNumber!: number;

  @ApiProperty()
  partSize!: number;

  @ApiProperty({ description: 'bytes of the file before the part' })
  partOffset!: number;

  @ApiPropertyOptional({
    type: [Number],
    description: 'the SHA-256 state words the part starts from, as the request gave them (parallel mode)',
  })
  hashCtx?: number[];

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

export class CreateRevisionResponse extends SuccessEnvelope {
  @ApiProperty({ description: 'the file, whose id stays its own across versions' })
  fileId!: string;

  @ApiProperty({ description: "the storage's multipart upload id; empty when none is needed (rapidUpload)" })
  uploadId!: string;

  @ApiProperty()
  containerId!: string;

  @ApiProperty({ description: 'the content is held already: the version is complete, upload nothing' })
  rapidUpload!: boolean;

  @ApiProperty({
    type: () => [PartUrlResponse],
    description: 'the URLs of the parts asked for (multiParts), or of the one part of uploadMode put; [] otherwise',
  })
  multiParts!: PartUrlResponse[];

  @ApiProperty({
    description: "the new version's id, KooDrive's <assetId>.<versionId>",
    example: '1618739290026578816.1763131768673766528',
  })
  revisionId!: string;
}

export class CompleteRevisionResponse extends CompleteUploadResponse {
  @ApiProperty({ description: "the file's current version, KooDrive's <assetId>.<versionId>" })
  revisionId!: string;

  @ApiProperty({ description: "the file's completed versions, its first upload included" })
  revisionVersion!: number;
}
