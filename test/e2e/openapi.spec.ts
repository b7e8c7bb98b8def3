// The OpenAPI document: served at /docs outside production, and the exported openapi.json is the
// document the running app describes (regenerate with `npm run openapi` after changing the API).
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { ApiCode } from '@koodrive/errors';
import { newUser, useTestApp } from '../support/harness.ts';

describe('OpenAPI', () => {
  const app = useTestApp();

  it('serves the document and its UI at /docs, and openapi.json is that document', async () => {
    const ui = await fetch(`${app().baseUrl}/docs`);
    assert.equal(ui.status, 200);
    assert.match(await ui.text(), /swagger-ui/i);
    const served = (await (await fetch(`${app().baseUrl}/docs/openapi.json`)).json()) as Record<string, unknown>;
    const exported = JSON.parse(await readFile(new URL('../../../openapi.json', import.meta.url), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(exported, served, 'openapi.json is stale: run npm run openapi');
  });

  it('describes exactly the API routes, each answering, with every error code of the contract', async () => {
    const served = (await (await fetch(`${app().baseUrl}/docs/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    assert.deepEqual(Object.keys(served.paths).sort(), [
      '/koodrive/ose/v1/files/complete',
      '/koodrive/ose/v1/files/create',
      '/koodrive/ose/v1/files/multipart/parts/{fileId}/{partNumber}',
      '/koodrive/ose/v1/files/multipart/uploadUrl',
      '/koodrive/ose/v1/revision/completeRevision',
      '/koodrive/ose/v1/revision/createRevision',
    ]);
    const user = await newUser();
    for (const [route, methods] of Object.entries(served.paths)) {
      if (route.includes('{fileId}')) {
        // the part URL: a signed PUT, not a JSON call
        assert.deepEqual(Object.keys(methods), ['put']);
        const answer = await fetch(`${app().baseUrl}${route.replace('{fileId}', 'Fi0').replace('{partNumber}', '1')}`, {
          method: 'PUT',
          body: 'x',
        });
        assert.equal(answer.status, 400, `${route} is routed and checks its signature`);
        continue;
      }
      assert.deepEqual(Object.keys(methods), ['post']);
      const answer = await fetch(`${app().baseUrl}${route}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
        body: '{}',
      });
      assert.notEqual(answer.status, 404, `${route} is routed`);
    }
    const text = JSON.stringify(served);
    for (const code of Object.values(ApiCode).filter(
      (value) => typeof value === 'number' && value !== ApiCode.Success,
    )) {
      assert.ok(text.includes(String(code)), `error code ${code} is documented`);
    }
  });
});
