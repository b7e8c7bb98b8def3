// Every series the alerts (deploy/base/prometheusrule.yaml) select is one the service really
// exports: the metric in a real /metrics scrape, after an upload and a complete, with every label
// the alert matches on, and every value it matches exactly (but KooDrive codes, which appear once
// something answers them). kube-state-metrics' series, which the service does not export, are
// the two the pod alerts name.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiCode } from '@koodrive/errors';
import { call, newUser, testBytes, upload, useTestApp } from '../support/harness.ts';
import { alertRules, exposition, ruleGroups, selectors } from '../support/promql.ts';

// kube-state-metrics, with the labels the alerts match on
const KUBE_STATE_METRICS: Record<string, string[]> = {
  kube_deployment_status_replicas_available: ['namespace', 'deployment'],
  kube_pod_container_status_restarts_total: ['namespace', 'pod', 'container'],
};

describe('alerts against a real /metrics', () => {
  const app = useTestApp();

  it('name only metrics, labels and values the service exports', async () => {
    const user = await newUser();
    const { fileId } = await upload(app().baseUrl, user, testBytes(6 * 1024 * 1024, 7));
    assert.equal((await call(app().baseUrl, 'complete', { fileId }, { token: user.token })).body.code, 0);
    const response = await fetch(app().metricsUrl);
    assert.equal(response.status, 200);
    const scraped = exposition(await response.text());
    assert.ok(scraped.size > 20, 'a real scrape');
    // Prometheus sets `job` and `instance` on every series of a target: a metric's own would be
    // renamed exported_job / exported_instance, and selectors on it would match nothing
    for (const [name, samples] of scraped) {
      assert.ok(
        !samples.some((labels) => 'job' in labels || 'instance' in labels),
        `${name} has a job or instance label`,
      );
    }

    const codes = new Set(
      Object.values(ApiCode)
        .filter((code) => typeof code === 'number')
        .map(String),
    );
    let checked = 0;
    for (const rule of alertRules(await ruleGroups())) {
      const found = selectors(rule.expr);
      assert.ok(found.length > 0, `${rule.alert} selects something`);
      for (const { metric, matchers } of found) {
        checked += 1;
        const known = KUBE_STATE_METRICS[metric];
        if (known !== undefined) {
          for (const { label } of matchers) {
            assert.ok(known.includes(label), `${rule.alert}: ${metric} has no label ${label}`);
          }
          continue;
        }
        assert.ok(
          metric.startsWith('koodrive_'),
          `${rule.alert}: ${metric} is neither the service's nor kube-state-metrics'`,
        );
        const samples = scraped.get(metric);
        assert.ok(samples !== undefined, `${rule.alert}: the service exports no ${metric}`);
        for (const { label, op, value } of matchers) {
          assert.ok(
            samples.some((labels) => label in labels),
            `${rule.alert}: ${metric} has no label ${label}`,
          );
          if (op !== '=') {
            continue;
          }
          if (label === 'code') {
            assert.ok(codes.has(value), `${rule.alert}: ${value} is a KooDrive code`);
          } else {
            assert.ok(
              samples.some((labels) => labels[label] === value),
              `${rule.alert}: no ${metric}{${label}="${value}"} in the scrape`,
            );
          }
        }
      }
    }
    assert.ok(checked >= 12, `${checked} selectors checked`);
  });
});
