// The build npm start runs: the generation steps whose inputs changed (Prisma's client, the SHA-256
// addon, the browser uploader), then the service compiled to dist/ with SWC if a source changed.
// Quiet unless something fails; a restart with nothing changed does no work.
//   node tools/build.ts                  everything (npm start)
//   node tools/build.ts prisma native    only those generation steps (npm run build, check, tests)
import { GENERATION_STEPS, runSteps, type Step } from './build/steps.ts';

function stepsNamed(names: readonly string[]): Step[] {
  return names.map((name) => {
    const step = GENERATION_STEPS[name];
    if (step === undefined) {
      throw new Error(`unknown step "${name}" (${Object.keys(GENERATION_STEPS).join(', ')})`);
    }
    return step;
  });
}

if (import.meta.main) {
  try {
    const named = process.argv.slice(2);
    await runSteps(stepsNamed(named.length === 0 ? Object.keys(GENERATION_STEPS) : named));
    if (named.length === 0) {
      // SWC only here: the image's build (npm run build, no optional packages) never loads it
      const { compile } = await import('./build/compile.ts');
      await compile();
    }
  } catch (error) {
    console.error(`build failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
