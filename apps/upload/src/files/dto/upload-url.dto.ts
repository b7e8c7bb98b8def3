import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString } from 'class-validator';
import { MAX_FILE_LENGTH, MAX_PARTS, MAX_PARTS_PER_REQUEST, MAX_PART_SIZE } from '@koodrive/limits';
import { IsFileId } from './field-rules.js';
import { ArePartRequests } from './part-requests.js';

export const PART_UPLOAD_VIAS = ['s3', 'service'] as const;
export type PartUploadVia = (typeof PART_UPLOAD_VIAS)[number];

// One requested part, as OpenAPI describes it. Its rules are checked by checkPartRequests
// (part-requests.ts), over the plain list: no instance of this class is made per part.
export class PartRequestDto {
  @ApiProperty({ minimum: 1, maximum: MAX_PARTS, example: 46 })
  partNumber!: number;

  @ApiProperty({
    description: 'bytes; every part but the last at least 5 MiB',
    minimum: 0,
    maximum: MAX_PART_SIZE,
    example: 10485760,
  })
  partSize!: number;

  @ApiPropertyOptional({
    description: 'bytes of the file before this part',
    minimum: 0,
    maximum: MAX_FILE_LENGTH,
    example: 471859200,
  })
  partOffset?: number;

  @ApiPropertyOptional({
    description:
      'parallel mode: the SHA-256 state words h0..h7 after all the bytes before this part (needs partOffset, a multiple of 64); also accepted: the base64-JSON form of an OpenSSL SHA256_CTX (see API.md)',
    oneOf: [
      { type: 'array', items: { type: 'integer', minimum: 0, maximum: 4294967295 }, minItems: 8, maxItems: 8 },
      { type: 'string', maxLength: 1024 },
    ],
    example: [1748048713, 2644528514, 4267727253, 2252747490, 4036182088, 2253856463, 526139147, 2194267752],
  })
  hashCtx?: string | number[];
}

// The parts to hand out URLs for, and where they point: shared by uploadUrl and create.
export class PartRequestsDto {
  // this service's addition to KooDrive's request
  @ApiPropertyOptional({
    enum: PART_UPLOAD_VIAS,
    description:
      "where to PUT the parts: straight to S3 (presigned) or through this service, which hashes each part as it streams it to S3 so complete needs no read-back (parallel mode). Default: the deployment's PART_UPLOAD_VIA",
  })
  @IsOptional()
  @IsString({ message: 'must be s3 or service' })
  @IsIn(PART_UPLOAD_VIAS, { message: 'must be s3 or service' })
  uploadVia?: PartUploadVia;
}

export class UploadUrlDto extends PartRequestsDto {
  @ApiProperty({ example: 'Fi0123456789abcdefghijABCDEFGHIJk' })
  @IsString({ message: 'must be a string' })
  @IsFileId()
  fileId!: string;

  @ApiProperty({ type: () => [PartRequestDto], minItems: 1, maxItems: MAX_PARTS_PER_REQUEST })
  @ArePartRequests({ required: true })
  multiParts!: PartRequestDto[];
}
