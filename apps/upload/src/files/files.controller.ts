import { Body, Controller, HttpCode, Post, UseGuards, UseInterceptors, applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
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
import type { PartUrl } from './part-urls.js';

const REQUEST_ERRORS =
  '13000101 malformed request (JSON, content type, size, nesting); 13000102 invalid parameter (named in msg); 13000410 no file.upload scope, the shared folder (x-hw-share-folder-id) not granted, or no record of the app-authenticated user';

const COMMON_ERRORS = [
  ApiResponse({
    status: 401,
    type: ErrorEnvelope,
    description:
      '13000901 missing, malformed, unknown or expired credentials: a session token, or an app signature that is wrong, stale, from the future or replayed (WWW-Authenticate)',
  }),
  ApiResponse({ status: 429, type: ErrorEnvelope, description: '13000903 over the per-user rate limit (Retry-After)' }),
  ApiResponse({ status: 500, type: ErrorEnvelope, description: '13000201 internal error' }),
  ApiResponse({
    status: 503,
    type: ErrorEnvelope,
    description: '13000201 a dependency is unavailable (Retry-After); retry',
  }),
];

@ApiTags('files')
@ApiBearerAuth()
@ApiHeader({ name: 'X-Traceid', required: false, description: 'trace id, echoed (1-64 of A-Z a-z 0-9 _ -)' })
@ApiHeader({ name: 'language', required: false, description: 'en-US (default) or zh-CN: the language of msg' })
@ApiHeader({
  name: 'x-hw-share-folder-id',
  required: false,
  description: 'act in this shared folder (granted file.upload in the session or user record)',
})
@applyDecorators(...COMMON_ERRORS)
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
    description: `${REQUEST_ERRORS}; 13000401 no such task for this caller; 13000403 the task is no longer open`,
  })
  uploadUrl(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: UploadUrlDto,
    @RequestOrigin() origin: string,
  ): Promise<{ multiParts: PartUrl[] }> {
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
