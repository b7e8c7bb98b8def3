// The repository's root, above the calling spec: from source (test/...) or compiled (.out/test/...).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';

export function repositoryRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'README.md'))) {
      return dir;
    }
    assert.notEqual(path.dirname(dir), dir, `no repository above ${from}`);
  }
}
