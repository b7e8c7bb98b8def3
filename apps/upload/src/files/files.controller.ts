import { Body, Controller, HttpCode, Post, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal, UploadAuthGuard } from '@koodrive/auth';
import { type CompleteUploadResult, CompleteUploadService } from './complete-upload.service.js';
import { type CreateUploadResult, CreateUploadService } from './create-upload.service.js';
import { SuccessEnvelopeInterceptor } from '../http/success-envelope.interceptor.js';
import { RequestOrigin } from '../http/request-origin.decorator.js';
import { XTraceid } from '../http/x-traceid.decorator.js';
import { CompleteUploadDto } from './dto/complete-upload.dto.js';
import { CreateUploadDto } from './dto/create-upload.dto.js';
import { UploadUrlDto } from './dto/upload-url.dto.js';
import { CompleteUploadResponse, CreateUploadResponse, UploadUrlResponse } from './dto/responses.js';
import { ErrorEnvelope } from '../http/envelope.dto.js';
import { UploadUrlService } from './upload-url.service.js';
import type { PartUrlList } from './part-urls.js';
import { ApiController, REQUEST_ERRORS } from './controller-docs.js';

@ApiController('files')
@Controller('koodrive/ose/v1/files')
@UseGuards(UploadAuthGuard)
@UseInterceptors(SuccessEnvelopeInterceptor)
export class FilesController {
  constructor(
    private readonly createUpload: CreateUploadService,
    private readonly uploadUrls: UploadUrlService,
    private readonly completeUpload: CompleteUploadService,
  ) {}

  @Post('create')
  @HttpCode(200)
  @ApiOperation({ summary: 'Create an upload task (or a flash upload of content already held)' })
  @ApiOkResponse({ type: CreateUploadResponse })
  @ApiResponse({
    status: 400,
    type: ErrorEnvelope,
    description: `${REQUEST_ERRORS}; 13000311 the container's quota would be exceeded; 13000405 the name is taken in the folder (autoRename 3)`,
  })
  create(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateUploadDto,
    @XTraceid() xTraceid: string,
    @RequestOrigin() origin: string,
  ): Promise<CreateUploadResult> {
    return this.createUpload.create(principal, dto, xTraceid, origin);
  }

  @Post('multipart/uploadUrl')
  @HttpCode(200)
  @ApiOperation({ summary: "Signed URLs to PUT the parts to (S3's, or this service's with uploadVia service)" })
  @ApiOkResponse({ type: UploadUrlResponse })
  @ApiResponse({
    status: 400,
    type: ErrorEnvelope,
    description: `${REQUEST_ERRORS}; 13000401 no such task for this caller; 13000403 the task is no longer open (a completed file's id names its pending version, if any)`,
  })
  uploadUrl(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: UploadUrlDto,
    @RequestOrigin() origin: string,
  ): Promise<{ multiParts: PartUrlList }> {
    return this.uploadUrls.presign(principal, dto, origin);
  }

  @Post('complete')
  @HttpCode(200)
  @ApiOperation({ summary: 'Combine the parts, verify SHA-256, record the file (idempotent)' })
  @ApiOkResponse({ type: CompleteUploadResponse })
  @ApiResponse({
    status: 400,
    type: ErrorEnvelope,
    description: `${REQUEST_ERRORS}; 13000401 no such task (unknown, another user's, expired, parts purged); 13000402 parts incomplete or digest mismatch; 13000403 busy or changed, retry`,
  })
  complete(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CompleteUploadDto,
    @XTraceid() xTraceid: string,
  ): Promise<CompleteUploadResult> {
    return this.completeUpload.complete(principal, dto, xTraceid);
  }
}
