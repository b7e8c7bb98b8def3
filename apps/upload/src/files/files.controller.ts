import { Body, Controller, HttpCode, Post, UseGuards, UseInterceptors } from '@nestjs/common';
import { CurrentPrincipal, type Principal, UploadAuthGuard } from '@koodrive/auth';
import { type CompleteUploadResult, CompleteUploadService } from './complete-upload.service.js';
import { type CreateUploadResult, CreateUploadService } from './create-upload.service.js';
import { SuccessEnvelopeInterceptor } from '../http/success-envelope.interceptor.js';
import { XTraceid } from '../http/x-traceid.decorator.js';
import { CompleteUploadDto } from './dto/complete-upload.dto.js';
import { CreateUploadDto } from './dto/create-upload.dto.js';
import { UploadUrlDto } from './dto/upload-url.dto.js';
import { type PartUrl, UploadUrlService } from './upload-url.service.js';

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
  create(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateUploadDto,
    @XTraceid() xTraceid: string,
  ): Promise<CreateUploadResult> {
    return this.createUpload.create(principal, dto, xTraceid);
  }

  @Post('multipart/uploadUrl')
  @HttpCode(200)
  uploadUrl(@CurrentPrincipal() principal: Principal, @Body() dto: UploadUrlDto): Promise<{ multiParts: PartUrl[] }> {
    return this.uploadUrls.presign(principal, dto);
  }

  @Post('complete')
  @HttpCode(200)
  complete(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CompleteUploadDto,
    @XTraceid() xTraceid: string,
  ): Promise<CompleteUploadResult> {
    return this.completeUpload.complete(principal, dto, xTraceid);
  }
}
