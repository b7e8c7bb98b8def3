import { Global, Module } from '@nestjs/common';
import { FileRepository } from './file.repository.js';
import { PrismaService } from './prisma.service.js';

@Global()
@Module({
  providers: [PrismaService, FileRepository],
  exports: [PrismaService, FileRepository],
})
export class DatabaseModule {}
