import { Body, Controller, HttpCode, Post, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal, UploadAuthGuard } from '@koodrive/auth';
import { ErrorEnvelope } from '../http/envelope.dto.js';
import { RequestOrigin } from '../http/request-origin.decorator.js';
import { SuccessEnvelopeInterceptor } from '../http/success-envelope.interceptor.js';
import { XTraceid } from '../http/x-traceid.decorator.js';
import { type CompleteRevisionResult, CompleteRevisionService } from './complete-revision.service.js';
import { ApiController, REQUEST_ERRORS } from './controller-docs.js';
import { type CreateRevisionResult, CreateRevisionService } from './create-revision.service.js';
import { CompleteUploadDto } from './dto/complete-upload.dto.js';
import { CreateRevisionDto } from './dto/create-revision.dto.js';
import { CompleteRevisionResponse, CreateRevisionResponse } from './dto/responses.js';

// KooDrive's two upload endpoints of its "multiple file versions" API (API.md, "New versions of a
// file"); the parts go through files/multipart/uploadUrl with the file's id.
@ApiController('revision')
@Controller('koodrive/ose/v1/revision')
@UseGuards(UploadAuthGuard)
@UseInterceptors(SuccessEnvelopeInterceptor)
export class RevisionsController {
  constructor(
    private readonly createRevisions: CreateRevisionService,
    private readonly completeRevisions: CompleteRevisionService,
  ) {}

  @Post('createRevision')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Start a new version of a completed file (or a flash upload of content already held); supersedes a pending one',
  })
  @ApiOkResponse({ type: CreateRevisionResponse })
  @ApiResponse({
    status: 400,
    type: ErrorEnvelope,
    description: `${REQUEST_ERRORS}; 13000311 the container's quota would be exceeded; 13000401 no such file for this caller, or another containerId; 13000403 the file is not completed, or an earlier version is being completed (retry)`,
  })
  createRevision(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateRevisionDto,
    @XTraceid() xTraceid: string,
    @RequestOrigin() origin: string,
  ): Promise<CreateRevisionResult> {
    return this.createRevisions.createRevision(principal, dto, xTraceid, origin);
  }

  @Post('completeRevision')
  @HttpCode(200)
  @ApiOperation({
    summary: "Combine the pending version's parts, verify SHA-256, make it the file's content (idempotent)",
  })
  @ApiOkResponse({ type: CompleteRevisionResponse })
  @ApiResponse({
    status: 400,
    type: ErrorEnvelope,
    description: `${REQUEST_ERRORS}; 13000401 no such file or version (unknown, another user's, expired, superseded); 13000402 parts incomplete or digest mismatch; 13000403 busy, or the file is not completed; retry`,
  })
  completeRevision(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CompleteUploadDto,
    @XTraceid() xTraceid: string,
  ): Promise<CompleteRevisionResult> {
    return this.completeRevisions.completeRevision(principal, dto, xTraceid);
  }
}
