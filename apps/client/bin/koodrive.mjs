#!/usr/bin/env node
// koodrive, the KooDrive upload client, run from its TypeScript sources: nothing to build first,
// `npm ci` is enough. From the clone: `npx koodrive put <file>` (this file is package.json's bin),
// or `npm run client -- put <file>`. npm runs scripts in the repository's root, so under
// `npm run client` relative paths are taken from the directory the command was typed in (INIT_CWD).
import { register } from 'node:module';
import process from 'node:process';

if (process.env.npm_lifecycle_event === 'client' && process.env.INIT_CWD) {
  process.chdir(process.env.INIT_CWD);
}
// @koodrive/<lib> to libs/<lib>/src, and the TypeScript transpiled as it loads (tools/source-resolve.mjs)
register('../../../tools/source-resolve.mjs', import.meta.url);
await import('../src/main.ts');
