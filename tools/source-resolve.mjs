// For the tools and benchmarks Node runs straight from their TypeScript (type stripping, no build):
// `@koodrive/<lib>` resolves to libs/<lib>/src/index.ts, as tsconfig.json's paths say, and a
// relative `./x.js` inside this repository to `./x.ts` when only the TypeScript is there (the libs'
// sources name each other by the files tsc makes of them). Only libs without decorators load this
// way: @koodrive/protocol, @koodrive/migrations. Registered by tools/register-sources.mjs.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

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
