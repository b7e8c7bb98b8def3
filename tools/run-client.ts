// npm run client -- put <file> [options]: runs the compiled client, dist/apps/client/src/main.js
// (what `npm start` and `npm run build` compile). The client imports path aliases (@koodrive/...)
// that only the build resolves, so it cannot run from its .ts sources: when dist has no client
// yet, or the client's sources changed since the last build, this builds first (output on stderr,
// keeping stdout for the client's result). The client then runs in this process, so Ctrl-C reaches
// it directly.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'dist/apps/client/src/main.js');
const BUILD_INFO = join(ROOT, 'dist/.tsbuildinfo');
const SOURCES = ['apps/client/src', 'libs/errors/src', 'libs/hashing/src', 'libs/limits/src', 'libs/protocol/src'];

function newestSource(): number {
  let newest = 0;
  for (const dir of SOURCES) {
    for (const entry of readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) {
        newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
      }
    }
  }
  return newest;
}

function build(): boolean {
  // under npm, npm_execpath is npm's own CLI script
  const npm = process.env.npm_execpath;
  const [command, args] =
    npm === undefined ? ['npm', ['run', '-s', 'build']] : [process.execPath, [npm, 'run', '-s', 'build']];
  const result = spawnSync(command, args, { cwd: ROOT, stdio: ['ignore', 2, 2] });
  return result.status === 0;
}

const built = existsSync(MAIN);
const stale = built && (!existsSync(BUILD_INFO) || newestSource() > statSync(BUILD_INFO).mtimeMs);
if (!built || stale) {
  process.stderr.write(built ? 'client sources changed: npm run build\n' : 'no compiled client yet: npm run build\n');
  if (!build()) {
    // tsc emits even on type errors, but without tsc-alias the aliases stay unresolved
    process.stderr.write('the build failed (see above); the client was not run\n');
    process.exit(1);
  }
}
await import(pathToFileURL(MAIN).href);
