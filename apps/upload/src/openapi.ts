// The OpenAPI document of the HTTP API, from the controllers' and DTOs' decorators. Served at
// /docs outside production; `npm run openapi` writes it to openapi.json.
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('koodrive-upload')
    .setDescription(
      'Finishes KooDrive multipart uploads: create the task, get part upload URLs, PUT the parts to ' +
        'storage, complete. Every answer is {code, msg, ...}; HTTP status and KooDrive code as listed.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'a KooDrive session token' })
    .build();
  return SwaggerModule.createDocument(app, config);
}
