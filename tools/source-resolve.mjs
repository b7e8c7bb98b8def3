// Runs this repository's TypeScript straight from source (no build): the tools, the benchmarks and
// `npm run test:unit`. Registered by tools/register-sources.mjs.
// - resolve: `@koodrive/<lib>` goes to libs/<lib>/src/index.ts, as tsconfig.json's paths say, and a
//   relative `./x.js` inside this repository to `./x.ts` when only the TypeScript is there (the
//   sources name each other by the files tsc makes of them);
// - load: each of the repository's .ts files is transpiled by TypeScript on its own, with the
//   decorator options of tsconfig.json (Node's own type stripping cannot do decorators, which the
//   Nest classes use). Nothing is type-checked here: `npm run check` does that.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, URL } from 'node:url';
import ts from 'typescript';

const ROOT = new URL('../', import.meta.url);
const LIB = /^@koodrive\/([a-z-]+)$/;

export async function resolve(specifier, context, nextResolve) {
  const lib = LIB.exec(specifier);
  if (lib !== null) {
    return { url: new URL(`libs/${lib[1]}/src/index.ts`, ROOT).href, shortCircuit: true };
  }
  const parent = context.parentURL;
  if (/^\.\.?\//.test(specifier) && specifier.endsWith('.js') && parent?.startsWith(ROOT.href)) {
    const source = new URL(`${specifier.slice(0, -3)}.ts`, parent);
    if (!existsSync(new URL(specifier, parent)) && existsSync(source)) {
      return { url: source.href, shortCircuit: true };
    }
  }
  return nextResolve(specifier, context);
}

const COMPILER_OPTIONS = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2023,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  esModuleInterop: true,
  allowImportingTsExtensions: true,
  rewriteRelativeImportExtensions: true,
  // stack traces name the TypeScript's lines
  inlineSourceMap: true,
  inlineSources: true,
};

export async function load(url, context, nextLoad) {
  if (url.startsWith(ROOT.href) && url.endsWith('.ts') && !url.includes('/node_modules/')) {
    const fileName = fileURLToPath(url);
    const { outputText } = ts.transpileModule(await readFile(fileName, 'utf8'), {
      compilerOptions: COMPILER_OPTIONS,
      fileName,
    });
    return { format: 'module', source: outputText, shortCircuit: true };
  }
  return nextLoad(url, context);
}
