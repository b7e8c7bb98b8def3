import { Controller, Headers, HttpCode, Param, Put, Query, Req, Res, UseInterceptors } from '@nestjs/common';
import { ApiConsumes, ApiHeader, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiException } from '@koodrive/errors';
import { ErrorEnvelope } from '../http/envelope.dto.js';
import { PartUploadResponse } from './dto/part-upload.response.js';
import { SuccessEnvelopeInterceptor } from '../http/success-envelope.interceptor.js';
import { PART_UPLOAD_PATH } from './part-url.js';
import { PartUploadService, type StoredPartAnswer } from './part-upload.service.js';

// The route whose body is not parsed: bootstrap.ts hands it the raw stream.
export const PART_UPLOAD_ROUTE = `/${PART_UPLOAD_PATH}/:fileId/:partNumber`;

// No bearer token: the URL itself is signed and expires (uploadUrl hands it out).
@ApiTags('files')
@Controller(PART_UPLOAD_PATH)
@UseInterceptors(SuccessEnvelopeInterceptor)
export class PartUploadController {
  constructor(private readonly parts: PartUploadService) {}

  @Put(':fileId/:partNumber')
  @HttpCode(200)
  @ApiOperation({
    summary: "PUT a part's bytes to a part URL of this service (uploadVia service): streamed to storage and hashed",
  })
  @ApiConsumes('application/octet-stream')
  @ApiHeader({ name: 'content-length', required: true, description: "the part's size, as planned by uploadUrl" })
  @ApiOkResponse({ type: PartUploadResponse, headers: { ETag: { description: "the stored part's ETag" } } })
  @ApiResponse({
    status: 400,
    type: ErrorEnvelope,
    description:
      "13000101 body ended early; 13000102 Content-Length is not the part's size; 13000401 no such open task or part; 13000403 the task is no longer open, or another PUT of the part is in progress; 13000410 the URL is forged or has expired",
  })
  @ApiResponse({ status: 503, type: ErrorEnvelope, description: '13000201 storage or database unavailable; retry' })
  async put(
    @Param('fileId') fileId: string,
    @Param('partNumber') partNumber: string,
    @Query('expires') expires: unknown,
    @Query('signature') signature: unknown,
    @Headers('content-length') contentLength: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<StoredPartAnswer> {
    // the body is read off the socket past node's HTTP parser (request-body.ts), which then no
    // longer knows where the connection is: it is not kept alive (a part is megabytes; a new
    // connection per part costs nothing beside it)
    void reply.header('connection', 'close');
    if (!/^[1-9]\d{0,4}$/.test(partNumber)) {
      throw ApiException.invalidParameter('partNumber: must be 1 to 10000');
    }
    const stored = await this.parts.put(
      { fileId, partNumber: Number(partNumber), expires, signature, contentLength },
      request.raw,
    );
    void reply.header('etag', stored.etag);
    return stored;
  }
}
