// docker-compose.yml as Compose itself reads it (`docker-compose config`, which needs no engine),
// and the Dockerfile's promises. Nothing here runs a container: test/deploy/image.spec.ts builds
// the image with podman and runs it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { loadConfig } from '@koodrive/config';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  read_only?: boolean;
}

async function composeConfig(): Promise<{ services: Record<string, Service> }> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('docker-compose', ['-f', path.join(ROOT, 'docker-compose.yml'), 'config'], {
      cwd: ROOT,
    }));
  } catch (error) {
    throw new Error(`docker-compose config failed (npm run services:up installs docker-compose): ${String(error)}`, {
      cause: error,
    });
  }
  return parse(stdout) as { services: Record<string, Service> };
}

describe('docker-compose.yml', () => {
  it('is valid Compose, with pinned images and health-based start order', async () => {
    const { services } = await composeConfig();
    for (const name of ['postgres', 'redis', 'minio', 'bucket', 'jaeger', 'migrate', 'upload']) {
      assert.ok(services[name], `a ${name} service`);
    }
    for (const [name, service] of Object.entries(services)) {
      if (service.build === undefined) {
        assert.match(service.image ?? '', /^[^:]+:(?!latest$)[\w.-]+$/, `${name}'s image is pinned`);
      }
    }
    for (const name of ['postgres', 'redis', 'minio']) {
      assert.ok(services[name]!.healthcheck, `${name} has a health check`);
    }
    assert.deepEqual(services.upload!.depends_on, {
      migrate: { condition: 'service_completed_successfully' },
      bucket: { condition: 'service_completed_successfully' },
      redis: { condition: 'service_healthy' },
      jaeger: { condition: 'service_started' },
    });
    assert.deepEqual(services.migrate!.depends_on, { postgres: { condition: 'service_healthy' } });
    assert.deepEqual(services.bucket!.depends_on, { minio: { condition: 'service_healthy' } });
  });

  it('gives the service a production configuration that loads, traces to Jaeger, migrations from its image', async () => {
    const { services } = await composeConfig();
    const upload = services.upload!;
    const config = loadConfig(upload.environment ?? {});
    assert.equal(config.nodeEnv, 'production');
    assert.equal(config.telemetry.otlpEndpoint, 'http://jaeger:4318');
    assert.equal(new URL(config.s3.endpoint!).hostname, 'minio');
    assert.equal(new URL(config.databaseUrl!).hostname, 'postgres');
    assert.equal(upload.read_only, true);
    const migrate = services.migrate!;
    assert.equal(migrate.image, upload.image);
    assert.deepEqual(migrate.command, ['node', 'dist/tools/db/migrate.js']);
    assert.equal(migrate.environment?.DATABASE_URL, upload.environment?.DATABASE_URL);
    assert.equal(services.jaeger!.environment?.COLLECTOR_OTLP_ENABLED, 'true');
  });
});

describe('Dockerfile', () => {
  it('builds in a stage of its own and runs production dependencies as a non-root user, without HEALTHCHECK', async () => {
    const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    assert.equal(stages.length, 2);
    const runtime = stages[1]!;
    assert.match(runtime, /npm ci --omit=dev/);
    assert.match(runtime, /^USER node$/m);
    assert.doesNotMatch(dockerfile, /^HEALTHCHECK/m);
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:24\.[\d.]+-[\w-]*slim$/m);
    // what CMD starts is what the build writes (tsconfig.build.json's outDir)
    // (node's own flags, such as the young generation's cap, may come before it)
    const cmd = /^CMD \["node", (?:"--[\w=-]+", )*"([^"]+)"\]$/m.exec(runtime)?.[1];
    const build = JSON.parse(await readFile(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as {
      compilerOptions: { outDir: string };
      include: string[];
    };
    assert.equal(cmd, `${build.compilerOptions.outDir}/apps/upload/src/main.js`);
    // the migration tool is built with the service (dist/tools/db), and what it reads is there too
    assert.match(runtime, /COPY prisma \.\/prisma/);
    assert.match(runtime, /COPY --from=build \/app\/dist \.\/dist/);
    assert.ok(build.include.includes('tools/**/*.ts'), 'the build compiles the tools');
    const ignore = await readFile(path.join(ROOT, '.dockerignore'), 'utf8');
    for (const entry of ['node_modules', '.git', '.services', 'dist']) {
      assert.match(ignore, new RegExp(`^${entry.replace('.', '\\.')}$`, 'm'));
    }
  });

  it('ships the migration tool with its engine as production dependencies', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const file of ['tools/db/schema-engine.ts', 'tools/db/migrate.ts', 'libs/migrations/src/migrations.ts']) {
      const source = await readFile(path.join(ROOT, file), 'utf8');
      for (const [, name] of source.matchAll(/from '(@?[\w-]+(?:\/[\w-]+)?)/g)) {
        // @koodrive/* are the repository's own libs, built into dist with the tool
        if (!name!.startsWith('node:') && name !== 'node' && !name!.startsWith('@koodrive/')) {
          assert.ok(name! in pkg.dependencies, `${name} (${file}) is a production dependency`);
        }
      }
    }
  });
});
