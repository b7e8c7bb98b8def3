// /metrics: the Prometheus series the dashboards and alerts use, moved by real requests, on a
// listener of its own (METRICS_PORT), never on the API's port.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { call, newUser, testBytes, type TestUser, upload, useTestApp } from '../support/harness.ts';
import { ReaperService } from '../../apps/upload/src/maintenance/reaper.service.ts';

// The value of one series, matched by name and a subset of its labels (sums all matches).
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (match?.[1] !== name) {
      continue;
    }
    const found: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) {
      found[key!] = value!;
    }
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) {
      total = (total ?? 0) + Number(match[3]);
    }
  }
  return total;
}

describe('metrics', () => {
  const app = useTestApp();
  let user: TestUser;
  const data = testBytes(6 * 1024 * 1024, 5);

  before(async () => {
    user = await newUser();
  });

  async function scrape(): Promise<string> {
    const response = await fetch(app().metricsUrl);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type')!, /application\/openmetrics-text/);
    return response.text();
  }

  it('is served on METRICS_PORT only: the API port does not answer it', async () => {
    const onApiPort = await fetch(`${app().baseUrl}/metrics`);
    assert.equal(onApiPort.status, 404);
    assert.doesNotMatch(await onApiPort.text(), /koodrive_/);
    assert.notEqual(new URL(app().metricsUrl).port, new URL(app().baseUrl).port);
    assert.match(await scrape(), /^koodrive_http_requests_total\{/m);
    // the metrics listener serves nothing else
    const other = await fetch(new URL('/healthz', app().metricsUrl));
    assert.equal(other.status, 404);
    await other.body?.cancel();
    const post = await fetch(app().metricsUrl, { method: 'POST' });
    assert.equal(post.status, 405);
    await post.body?.cancel();
  });

  it('counts requests by route and code, completions, verified bytes and dependency calls', async () => {
    const before = await scrape();
    const { fileId } = await upload(app().baseUrl, user, data);
    assert.equal((await call(app().baseUrl, 'complete', { fileId }, { token: user.token })).body.code, 0);
    assert.equal(
      (await call(app().baseUrl, 'complete', { fileId: 'FiNope' }, { token: user.token })).body.code,
      13000401,
    );
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}): number =>
      (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);

    const complete = { route: '/koodrive/ose/v1/files/complete', method: 'POST' };
    assert.equal(delta('koodrive_http_requests_total', { ...complete, status: '200', code: '0' }), 1);
    assert.equal(delta('koodrive_http_requests_total', { ...complete, status: '400', code: '13000401' }), 1);
    assert.equal(delta('koodrive_http_request_duration_seconds_count', complete), 2);
    assert.equal(delta('koodrive_complete_outcomes_total', { code: '0', by: 'request' }), 1);
    assert.equal(delta('koodrive_verified_bytes_total'), data.length);
    assert.equal(delta('koodrive_verification_duration_seconds_count'), 1);
    for (const [dependency, operation] of [
      ['s3', 'CompleteMultipartUpload'],
      ['s3', 'GetObject'],
      ['s3', 'CreateMultipartUpload'],
      ['postgres', 'UPDATE'],
      ['redis', 'ADMIT_SESSION'],
    ]) {
      assert.ok(
        delta('koodrive_dependency_call_duration_seconds_count', {
          dependency: dependency!,
          operation: operation!,
          outcome: 'ok',
        }) >= 1,
        `${dependency} ${operation}`,
      );
    }
    assert.ok(sample(after, 'koodrive_uploads', { status: 'uploading' }) !== undefined);
    assert.ok(sample(after, 'koodrive_upload_process_resident_memory_bytes')! > 0);
  });

  it('exports every metric the Grafana dashboard queries', async () => {
    const { readFile } = await import('node:fs/promises');
    const dashboard = JSON.parse(
      await readFile(new URL('../../../deploy/grafana/koodrive-upload.json', import.meta.url), 'utf8'),
    ) as { panels: { targets: { expr?: string }[] }[] };
    const exported = new Set(
      (await scrape())
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('#'))
        .map((line) => /^[\w:]+/.exec(line)![0]),
    );
    const queried = new Set(
      dashboard.panels.flatMap((panel) =>
        panel.targets.flatMap((target) => target.expr?.match(/\bkoodrive_\w+/g) ?? []),
      ),
    );
    assert.ok(queried.size >= 8);
    for (const name of queried) {
      assert.ok(exported.has(name), `${name} is queried by the dashboard but not exported`);
    }
  });

  it('counts what the background jobs do', async () => {
    const before =
      sample(await scrape(), 'koodrive_maintenance_actions_total', { task: 'reap', action: 'expired' }) ?? 0;
    const created = await call(
      app().baseUrl,
      'create',
      { fileName: `m-${Date.now()}.bin`, length: 5 },
      { token: user.token },
    );
    const { testDb } = await import('../support/harness.ts');
    await testDb().file.update({ where: { id: created.body.fileId as string }, data: { expiresAt: new Date(0) } });
    await app().app.get(ReaperService).reap();
    const after = sample(await scrape(), 'koodrive_maintenance_actions_total', { task: 'reap', action: 'expired' }) ?? 0;
    assert.ok(after - before >= 1);
  });
});
