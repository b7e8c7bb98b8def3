// node bench/profile.ts <file.cpuprofile>... : where a process's CPU went, by package.
// A V8 CPU profile (node --cpu-prof) samples the stack every interval; each sample's time is
// charged to the function on top (self time), and the function to the package its script is in:
// node_modules/<package> (the last one in the path: a dependency's own dependency counts as itself),
// node's own modules (node:*), this repository's code (apps/, libs/: "koodrive"), and V8's pseudo
// frames: (garbage collector), (program) (native code and the VM outside JavaScript), (idle).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  // sampled CPU time, idle excluded
  readonly busyMs: number;
  // the functions with the most self time: "package: function (script:line)", largest first
  readonly topFunctions: readonly { readonly name: string; readonly ms: number }[];
  // busy milliseconds by package, largest first
  readonly byPackage: readonly { readonly name: string; readonly ms: number; readonly share: number }[];
}

// The package a function belongs to, by its script.
export function packageOf(url: string, functionName: string): string {
  if (url === '') {
    // V8's pseudo frames, and native functions without a script
    return functionName.startsWith('(') ? functionName : '(native)';
  }
  return packageOfScript(url, (path) => path);
}

// The package a script (a URL or a path) belongs to; `other` names one outside node_modules, apps/
// and libs/ (bench/heap-breakdown.ts names them the same way).
export function packageOfScript(url: string, other: (path: string) => string = () => '(other scripts)'): string {
  if (url.startsWith('node:')) {
    return 'node (built-in modules)';
  }
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const inModules = path.lastIndexOf('/node_modules/');
  if (inModules !== -1) {
    const [first, second] = path.slice(inModules + '/node_modules/'.length).split('/');
    return first!.startsWith('@') ? `${first}/${second}` : first!;
  }
  return /\/(apps|libs)\//.test(path) ? 'koodrive (apps/, libs/)' : other(path);
}

// A span of monotonic microseconds (process.hrtime's clock, which V8's profile timestamps share on
// Linux).
export type Window = readonly [number, number];

// `windows`: only the samples taken within one of these.
export function summarize(profile: CpuProfile, windows?: Window | readonly Window[]): ProfileSummary {
  const within: readonly Window[] | undefined =
    windows === undefined || Array.isArray(windows[0])
      ? (windows as readonly Window[] | undefined)
      : [windows as Window];
  const packageOfNode = new Map<number, string>();
  const functionOfNode = new Map<number, string>();
  for (const node of profile.nodes) {
    const { url, functionName } = node.callFrame;
    const owner = packageOf(url, functionName);
    packageOfNode.set(node.id, owner);
    functionOfNode.set(node.id, `${owner}: ${functionName || '(anonymous)'} (${url.split('/').slice(-1)[0] ?? ''})`);
  }
  const micros = new Map<string, number>();
  const functionMicros = new Map<string, number>();
  // sample i lasted until the next one: timeDeltas[i + 1] (the last one's length is unknown: 0)
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i]!;
    if (within !== undefined && !within.some(([from, to]) => at >= from && at <= to)) {
      continue;
    }
    const name = packageOfNode.get(profile.samples[i]!) ?? '(unknown)';
    const lasted = profile.timeDeltas[i + 1] ?? 0;
    micros.set(name, (micros.get(name) ?? 0) + lasted);
    if (name !== '(idle)') {
      const fn = functionOfNode.get(profile.samples[i]!) ?? '(unknown)';
      functionMicros.set(fn, (functionMicros.get(fn) ?? 0) + lasted);
    }
  }
  micros.delete('(idle)');
  const busy = [...micros.values()].reduce((sum, us) => sum + us, 0);
  return {
    busyMs: Math.round(busy / 1000),
    byPackage: [...micros.entries()]
      .sort(([, a], [, b]) => b - a)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: busy === 0 ? 0 : us / busy })),
    topFunctions: [...functionMicros.entries()]
      .sort(([, a], [, b]) => b - a)
      .slice(0, 15)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000) })),
  };
}

export async function profileSummary(file: string, windows?: Window | readonly Window[]): Promise<ProfileSummary> {
  return summarize(JSON.parse(await readFile(file, 'utf8')) as CpuProfile, windows);
}

// A Markdown table of the packages with at least 1 % of the busy time.
export function formatProfileSummary(summary: ProfileSummary): string {
  const lines = [`busy ${summary.busyMs} ms sampled`, '', '| package | ms | share |', '| --- | --- | --- |'];
  for (const { name, ms, share } of summary.byPackage.filter((entry) => entry.share >= 0.01)) {
    lines.push(`| ${name} | ${ms} | ${(share * 100).toFixed(1)} % |`);
  }
  lines.push('', '| function (self time) | ms |', '| --- | --- |');
  for (const { name, ms } of summary.topFunctions) {
    lines.push(`| ${name.replaceAll('|', '\\|')} | ${ms} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    throw new Error('usage: node bench/profile.ts <file.cpuprofile>...');
  }
  for (const file of files) {
    process.stdout.write(`## ${file}\n\n${formatProfileSummary(await profileSummary(file))}\n\n`);
  }
}
