// GET / outside production: a short answer pointing a person who opened the service's address in a
// browser, or with curl, at what there is to see. In production / is an unknown route (404) like
// any other: nothing about the service is offered there.
import type { FastifyInstance } from 'fastify';

export const SERVICE_INDEX = {
  service: 'koodrive-upload',
  api: '/koodrive/ose/v1/files (create, multipart/uploadUrl, complete), /koodrive/ose/v1/revision (createRevision, completeRevision)',
  upload: '/upload (the browser uploader)',
  docs: '/docs (the API, OpenAPI)',
  readme: "README.md and docs/ in the service's repository",
} as const;

export function registerServiceIndex(fastify: FastifyInstance): void {
  fastify.get('/', (_request, reply) => {
    void reply.header('cache-control', 'no-cache').send(SERVICE_INDEX);
  });
}
