// npm start's compile: the service's TypeScript (apps/, libs/, tools/, specs and the browser app
// left out, as tsconfig.build.json does) to dist/ with SWC, file by file, no type check (npm run
// check, lint and CI do that). The same layout and module specifiers as tsc and tsc-alias give:
// @koodrive/<lib> becomes a relative path to libs/<lib>/src/index.js, ./x.ts becomes ./x.js.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { type Options, transformFile } from '@swc/core';
import { fingerprint, inputFiles, isFresh, packageVersion, ROOT, writeStamp } from './fingerprint.ts';

const OUT_DIR = 'dist';
const STAMP = `${OUT_DIR}/.build-inputs`;

function sources(): string[] {
  return inputFiles(['apps/*/src/**/*.ts', 'libs/*/src/**/*.ts', 'tools/**/*.ts'], ['apps/web/**', '**/*.spec.ts']);
}

// every lib by its entry point, as tsconfig.json's paths and tools/source-resolve.mjs name them
function libPaths(): Record<string, string[]> {
  return Object.fromEntries(
    inputFiles(['libs/*/src/index.ts']).map((entry) => [`@koodrive/${entry.split('/')[1]}`, [`./${entry}`]]),
  );
}

function options(file: string, paths: Record<string, string[]>): Options {
  // rewriteRelativeImportExtensions (./x.ts to ./x.js, as tsc's option of that name) is SWC's but
  // not yet in its typings
  return {
    filename: join(ROOT, file),
    swcrc: false,
    configFile: false,
    sourceMaps: true,
    module: { type: 'es6', resolveFully: true },
    jsc: {
      // tsconfig.json: es2023, experimentalDecorators, emitDecoratorMetadata, class fields as defined
      target: 'es2022',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: true },
      keepClassNames: true,
      baseUrl: ROOT,
      paths,
      rewriteRelativeImportExtensions: true,
      experimental: { keepImportAttributes: true },
    },
  } as Options;
}

async function compileFile(file: string, paths: Record<string, string[]>): Promise<void> {
  const out = join(ROOT, OUT_DIR, file.replace(/\.ts$/, '.js'));
  const { code, map } = await transformFile(join(ROOT, file), options(file, paths));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${code}\n//# sourceMappingURL=${basename(out)}.map\n`);
  if (map !== undefined) {
    const sourceMap = JSON.parse(map) as { sources: string[] };
    sourceMap.sources = [relative(dirname(out), join(ROOT, file))];
    await writeFile(`${out}.map`, JSON.stringify(sourceMap));
  }
}

// Compiles everything when any source changed since the last compile (a whole compile takes well
// under a second); leaves dist/ as it is otherwise.
export async function compile(): Promise<void> {
  const files = sources();
  const key = fingerprint(files, [packageVersion('@swc/core')]);
  if (isFresh(STAMP, key)) {
    return;
  }
  const paths = libPaths();
  await Promise.all(files.map((file) => compileFile(file, paths)));
  writeStamp(STAMP, key);
}
