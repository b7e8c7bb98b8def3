// The alerts as code: deploy/base/prometheusrule.yaml is what docs/operations.md's Alerts section
// promises, promtool (Debian's prometheus package, installed by services:up) accepts its rules,
// and its unit tests (test/deploy/alerts.test.yaml) raise each alert on the series that should
// and not on the ones that should not.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { ROOT, alertRules, ruleGroups, selectors } from '../support/promql.ts';

const UNIT_TESTS = path.join(ROOT, 'test/deploy/alerts.test.yaml');
const RULES_FILE = 'koodrive-upload.rules.yaml';

interface UnitTests {
  rule_files: string[];
  tests: { name: string; alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
}

async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('promtool', args);
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') {
      throw new Error(`promtool is not runnable (npm run services:up installs Debian's prometheus): ${String(error)}`, {
        cause: error,
      });
    }
    return { code: failed.code, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('alerts (PrometheusRule)', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'koodrive-alerts-'));
    await writeFile(path.join(dir, RULES_FILE), stringify(await ruleGroups()));
    await copyFile(UNIT_TESTS, path.join(dir, 'alerts.test.yaml'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('are the alerts docs/operations.md names, each with a severity, a summary and a wait where it needs one', async () => {
    const rules = alertRules(await ruleGroups());
    assert.deepEqual(
      rules.map((rule) => rule.alert),
      [
        'KoodriveUploadErrors',
        'KoodriveUploadCompleteSlow',
        'KoodriveUploadIntegrityFailures',
        'KoodriveUploadCompletionsStuck',
        'KoodriveUploadOutboxNotDraining',
        'KoodriveUploadReaperAbortFailures',
        'KoodriveUploadNoReadyPods',
        'KoodriveUploadRestarts',
      ],
    );
    const operations = await readFile(path.join(ROOT, 'docs/operations.md'), 'utf8');
    for (const rule of rules) {
      assert.ok(operations.includes(`\`${rule.alert}\``), `docs/operations.md names ${rule.alert}`);
      assert.match(rule.labels.severity ?? '', /^(?:critical|warning)$/, rule.alert);
      assert.ok(rule.annotations.summary, `${rule.alert} has a summary`);
    }
    const wait = Object.fromEntries(rules.map((rule) => [rule.alert, rule.for]));
    assert.equal(wait.KoodriveUploadErrors, '5m');
    assert.equal(wait.KoodriveUploadCompletionsStuck, '15m');
    // the thresholds docs/operations.md gives
    const expr = Object.fromEntries(rules.map((rule) => [rule.alert, rule.expr.replace(/\s+/g, ' ').trim()]));
    assert.match(expr.KoodriveUploadErrors!, /\{status=~"5\.\."\}\[5m\]\)\) \/ sum\(.*\) > 0\.01$/);
    assert.match(
      expr.KoodriveUploadCompleteSlow!,
      /^histogram_quantile\(0\.99, .*route="\/koodrive\/ose\/v1\/files\/complete".*> 30$/,
    );
    assert.deepEqual(
      selectors(expr.KoodriveUploadCompletionsStuck!),
      [
        { metric: 'koodrive_uploads', matchers: [{ label: 'status', op: '=', value: 'completing' }] },
        {
          metric: 'koodrive_maintenance_actions_total',
          matchers: [
            { label: 'task', op: '=', value: 'reconcile' },
            { label: 'action', op: '=', value: 'retry_later' },
          ],
        },
      ],
      'the selector reader reads an alert as written',
    );
  });

  it('pass promtool check rules, and a broken rule does not', async () => {
    const checked = await promtool('check', 'rules', path.join(dir, RULES_FILE));
    assert.equal(checked.code, 0, checked.output);
    assert.match(checked.output, /SUCCESS: 8 rules found/);

    const broken = structuredClone(await ruleGroups());
    broken.groups[0]!.rules[0]!.expr = 'sum(rate(koodrive_http_requests_total[5m]) > 0.01';
    await writeFile(path.join(dir, 'broken.rules.yaml'), stringify(broken));
    const refused = await promtool('check', 'rules', path.join(dir, 'broken.rules.yaml'));
    assert.notEqual(refused.code, 0);
    assert.match(refused.output, /FAILED/);
  });

  it('pass their promtool unit tests, which raise every alert and keep every one quiet once', async () => {
    const tests = parse(await readFile(UNIT_TESTS, 'utf8')) as UnitTests;
    assert.deepEqual(tests.rule_files, [RULES_FILE]);
    for (const { alert } of alertRules(await ruleGroups())) {
      const cases = tests.tests.flatMap((test) => test.alert_rule_test).filter((test) => test.alertname === alert);
      assert.ok(
        cases.some((test) => test.exp_alerts.length > 0),
        `a unit test raises ${alert}`,
      );
      assert.ok(
        cases.some((test) => test.exp_alerts.length === 0),
        `a unit test keeps ${alert} quiet`,
      );
    }
    const result = await promtool('test', 'rules', path.join(dir, 'alerts.test.yaml'));
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /SUCCESS/);
  });

  it('unit tests that fail when an alert misfires', async () => {
    const tests = parse(await readFile(UNIT_TESTS, 'utf8')) as UnitTests;
    const [first] = tests.tests;
    // the first test expects its alert at 10 minutes: expecting silence there must fail
    first!.alert_rule_test.at(-1)!.exp_alerts = [];
    await writeFile(path.join(dir, 'misfire.test.yaml'), stringify(tests));
    const result = await promtool('test', 'rules', path.join(dir, 'misfire.test.yaml'));
    assert.notEqual(result.code, 0);
    assert.match(result.output, new RegExp(`FAILED:[\\s\\S]*name: ${first!.name}`));
  });
});
