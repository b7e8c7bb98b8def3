// A real Prometheus (Debian's prometheus package, installed by services:up) for the tests: its
// own configuration, storage and loopback port, scraping the targets it is given every second,
// with rule files loaded; queried through its HTTP API.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { deadPort } from './dead-port.ts';

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
}

export class Prometheus {
  output = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly url: string,
  ) {}

  // `targets`: host:port of each /metrics to scrape (job `job`); `rules`: rule files' contents.
  static async start(job: string, targets: string[], rules: Record<string, unknown> = {}): Promise<Prometheus> {
    const dir = await mkdtemp(path.join(tmpdir(), 'koodrive-prometheus-'));
    const ruleFiles = [];
    for (const [name, content] of Object.entries(rules)) {
      await writeFile(path.join(dir, name), stringify(content));
      ruleFiles.push(path.join(dir, name));
    }
    await writeFile(
      path.join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        rule_files: ruleFiles,
        scrape_configs: [{ job_name: job, metrics_path: '/metrics', static_configs: [{ targets }] }],
      }),
    );
    const port = await deadPort();
    const child = spawn(
      'prometheus',
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const prometheus = new Prometheus(child, dir, `http://127.0.0.1:${port}`);
    const spawned = new Promise<never>((_, reject) => {
      child.once('error', (error) =>
        reject(new Error(`prometheus is not runnable (npm run services:up installs it): ${error.message}`)),
      );
      child.once('exit', (code, signal) =>
        reject(new Error(`prometheus exited (${code ?? signal}):\n${prometheus.output}`)),
      );
    });
    spawned.catch(() => undefined);
    const collect = (chunk: Buffer): void => {
      prometheus.output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    try {
      await Promise.race([prometheus.until(() => prometheus.ready(), 'ready'), spawned]);
    } catch (error) {
      await prometheus.stop();
      throw error;
    }
    return prometheus;
  }

  private async ready(): Promise<boolean> {
    return fetch(`${this.url}/-/ready`).then(
      async (response) => {
        await response.body?.cancel();
        return response.ok;
      },
      () => false,
    );
  }

  async api<T>(endpoint: string, params: Record<string, string> = {}): Promise<T> {
    const response = await fetch(`${this.url}/api/v1/${endpoint}?${new URLSearchParams(params).toString()}`);
    const answer = (await response.json()) as ApiAnswer<T>;
    if (answer.status !== 'success') {
      throw new Error(`${endpoint} ${JSON.stringify(params)}: ${answer.error ?? response.status}`);
    }
    return answer.data;
  }

  // An instant query now.
  async query(expr: string): Promise<Sample[]> {
    const data = await this.api<{ resultType: string; result: Sample[] }>('query', { query: expr });
    if (data.resultType !== 'vector') {
      throw new Error(`${expr} is a ${data.resultType}, not a vector`);
    }
    return data.result;
  }

  // Polls `check` (each query is an event: a scrape or an evaluation) until it holds, within 60 s.
  async until(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!(await check())) {
      if (Date.now() > deadline) {
        throw new Error(`Prometheus: ${what} not seen within 60 s\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      await once(this.child, 'exit');
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
