// The part PUT's answer, described for the OpenAPI document.
import { ApiProperty } from '@nestjs/swagger';
import { SuccessEnvelope } from '../../http/envelope.dto.js';

export class PartUploadResponse extends SuccessEnvelope {
  @ApiProperty()
  partNumber!: number;

  @ApiProperty({ description: "the stored part's ETag (also in the ETag header)" })
  etag!: string;

  @ApiProperty()
  size!: number;
}
