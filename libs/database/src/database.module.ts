import { Global, Module } from '@nestjs/common';
import { FileRepository } from './file.repository.js';
import { PrismaService } from './prisma.service.js';
import { OutboxRepository } from './outbox.repository.js';

@Global()
@Module({
  providers: [PrismaService, FileRepository, OutboxRepository],
  exports: [PrismaService, FileRepository, OutboxRepository],
})
export class DatabaseModule {}
