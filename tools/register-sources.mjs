// `node --import ./tools/register-sources.mjs tools/<tool>.ts`: lets a tool import the libs it
// needs by their entry points (see source-resolve.mjs).
import { register } from 'node:module';

register('./source-resolve.mjs', import.meta.url);
