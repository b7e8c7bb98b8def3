// The alerts as code (deploy/base/prometheusrule.yaml) and the series selectors of a PromQL
// expression, for the tests that check them against the service's real /metrics.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

// .out/test/support → repository root
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const PROMETHEUS_RULE = path.join(ROOT, 'deploy/base/prometheusrule.yaml');

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RuleGroups {
  groups: { name: string; rules: AlertRule[] }[];
}

// The PrometheusRule's spec: a Prometheus rule file as promtool and Prometheus read it.
export async function ruleGroups(): Promise<RuleGroups> {
  const manifest = parse(await readFile(PROMETHEUS_RULE, 'utf8')) as { kind: string; spec: RuleGroups };
  if (manifest.kind !== 'PrometheusRule') {
    throw new Error(`${PROMETHEUS_RULE} is a ${manifest.kind}`);
  }
  return manifest.spec;
}

export function alertRules(groups: RuleGroups): AlertRule[] {
  return groups.groups.flatMap((group) => group.rules);
}

export interface Matcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

export interface Selector {
  metric: string;
  matchers: Matcher[];
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

// The series selectors (metric name and label matchers) of an expression. It reads the PromQL
// this repository writes: selectors named by metric, label lists after by/without/on/ignoring/
// group_left/group_right, ranges and durations, numbers, functions and aggregations; a string
// literal outside a selector's braces (label_replace's arguments) it does not expect.
export function selectors(expr: string): Selector[] {
  const stripped = expr
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$__\w+/g, ' ');
  const found: Selector[] = [];
  for (const match of stripped.matchAll(/(?<![\w:.$])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?(\s*\()?/g)) {
    const [, metric, braces, call] = match;
    if (call !== undefined || KEYWORDS.has(metric!.toLowerCase())) {
      continue;
    }
    const matchers: Matcher[] = [];
    for (const [, label, op, value] of (braces ?? '').matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
      matchers.push({ label: label!, op: op as Matcher['op'], value: value! });
    }
    found.push({ metric: metric!, matchers });
  }
  return found;
}

// The samples of a Prometheus/OpenMetrics exposition: for each sample name, its label sets.
export function exposition(text: string): Map<string, Record<string, string>[]> {
  const samples = new Map<string, Record<string, string>[]>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? /.exec(line);
    if (match === null) {
      continue;
    }
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = value!;
    }
    samples.set(match[1]!, [...(samples.get(match[1]!) ?? []), labels]);
  }
  return samples;
}
