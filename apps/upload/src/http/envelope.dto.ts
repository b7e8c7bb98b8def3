// KooDrive's envelope around every answer, described for the OpenAPI document (the interceptor and
// the exception filter write it).
import { ApiProperty } from '@nestjs/swagger';

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
