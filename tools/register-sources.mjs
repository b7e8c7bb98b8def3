// `node --import ./tools/register-sources.mjs <file>.ts`: runs the repository's TypeScript from source,
// libs and Nest classes included (see source-resolve.mjs).
import { register } from 'node:module';

register('./source-resolve.mjs', import.meta.url);
