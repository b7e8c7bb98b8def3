// npm run build:web: bundles apps/web with esbuild, offline, into apps/web/dist: the library
// (koodrive-upload.js, its package.json's entry point), its hashing worker (hash-worker.js, with
// hash-wasm inside), and the page the service serves at /upload (index.html, page.js, page.css).
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, type BuildOptions } from 'esbuild';

const WEB = resolve(import.meta.dirname, '../apps/web');
export const WEB_DIST = join(WEB, 'dist');

const common: BuildOptions = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome120', 'firefox120', 'safari17'],
  tsconfig: join(WEB, 'tsconfig.json'),
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
  legalComments: 'linked',
};

export async function buildWeb(): Promise<void> {
  rmSync(WEB_DIST, { recursive: true, force: true });
  mkdirSync(WEB_DIST, { recursive: true });
  await Promise.all([
    build({ ...common, entryPoints: { 'koodrive-upload': join(WEB, 'src/index.ts') }, outdir: WEB_DIST }),
    build({ ...common, entryPoints: { 'hash-worker': join(WEB, 'src/hash-worker.ts') }, outdir: WEB_DIST }),
    build({ ...common, entryPoints: { page: join(WEB, 'page/main.ts') }, outdir: WEB_DIST }),
  ]);
  for (const file of ['index.html', 'page.css']) {
    copyFileSync(join(WEB, 'page', file), join(WEB_DIST, file));
  }
}

if (import.meta.main) {
  await buildWeb();
}
