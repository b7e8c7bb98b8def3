// What a build step's output was made from: a SHA-256 over its input files (paths and contents) and
// whatever else it depends on (a tool's version, the Node it runs on). The step is skipped while the
// stamp kept beside its output says the same; deleting the output deletes the stamp with it.
import { createHash } from 'node:crypto';
import { existsSync, globSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');

// The files under ROOT that match `patterns`, sorted, without those matching `exclude`.
export function inputFiles(patterns: readonly string[], exclude: readonly string[] = []): string[] {
  const entries = globSync([...patterns], { cwd: ROOT, exclude: [...exclude], withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
  return [...new Set(files)].sort();
}

export function fingerprint(files: readonly string[], extra: readonly string[] = []): string {
  const hash = createHash('sha256');
  for (const value of extra) {
    hash.update(`${value}\0`);
  }
  for (const file of files) {
    hash
      .update(`${file}\0`)
      .update(readFileSync(join(ROOT, file)))
      .update('\0');
  }
  return hash.digest('hex');
}

export function isFresh(stamp: string, key: string): boolean {
  const file = join(ROOT, stamp);
  return existsSync(file) && readFileSync(file, 'utf8') === key;
}

export function writeStamp(stamp: string, key: string): void {
  writeFileSync(join(ROOT, stamp), key);
}

// The version of an installed package, part of the inputs of the step that runs it.
export function packageVersion(name: string): string {
  const file = join(ROOT, 'node_modules', name, 'package.json');
  return existsSync(file) ? `${name}@${(JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version}` : name;
}
