// Builds the Nest application on Fastify: body limits, X-Traceid on every response, KooDrive's
// envelope for errors Fastify raises itself. Used by main.ts and by the end-to-end tests.
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { resolveXTraceid } from '@koodrive/telemetry';
import { AppModule } from './app.module.js';
import { sendError } from './http/api-exception.filter.js';

const BODY_LIMIT_BYTES = 64 * 1024;

export async function createApp(): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, trustProxy: true });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, adapter, { bufferLogs: false });
  const fastify = app.getHttpAdapter().getInstance();
  const logger = new Logger('Http');
  fastify.addHook('onRequest', async (request, reply) => {
    void reply.header('x-traceid', resolveXTraceid(request.raw));
  });
  fastify.setErrorHandler((error, request, reply) => sendError(error, request, reply, logger));
  fastify.setNotFoundHandler((request, reply) => sendError({ statusCode: 404 }, request, reply, logger));
  app.enableShutdownHooks();
  await app.init();
  await fastify.ready();
  return app;
}
