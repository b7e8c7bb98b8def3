// A Redis primary, one replica and three sentinels of a test's own, from Debian's packages
// (redis-server, redis-sentinel), on loopback ports, so a test can kill the primary and watch the
// sentinels promote the replica. Nothing is persisted; everything lives in a temporary directory.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { deadPorts } from './dead-port.ts';

const NAME = 'koodrive-test';
// how long a primary may not answer before a sentinel thinks it down, and how long a failover may take
const DOWN_AFTER_MS = 1_000;
const FAILOVER_TIMEOUT_MS = 5_000;
const QUORUM = 2;

interface Node {
  readonly port: number;
  process: ChildProcess | undefined;
}

// Polls `probe` until it is true; fails after `timeoutMs` saying what it waited for.
async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting until ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// One command on a short-lived connection (a sentinel, or a node), never retried.
async function ask(port: number, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    return await client.call(String(args[0]), ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

export class SentinelGroup {
  readonly name = NAME;
  private readonly nodes: Node[];
  private readonly sentinels: Node[];
  private readonly children: ChildProcess[] = [];

  private constructor(
    private readonly dir: string,
    nodePorts: readonly number[],
    sentinelPorts: readonly number[],
  ) {
    this.nodes = nodePorts.map((port) => ({ port, process: undefined }));
    this.sentinels = sentinelPorts.map((port) => ({ port, process: undefined }));
    // a spec that dies early must not leave servers behind
    process.once('exit', () => this.children.forEach((child) => child.kill('SIGKILL')));
  }

  // Starts the primary, its replica and the sentinels, and waits until every sentinel knows the
  // replica and the other sentinels (a failover needs both).
  static async start(): Promise<SentinelGroup> {
    for (const binary of ['redis-server', 'redis-sentinel']) {
      if (spawnSync(binary, ['--version']).error !== undefined) {
        throw new Error(`${binary} is not installed (npm run services:up installs it from Debian's packages)`);
      }
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'koodrive-sentinel-'));
    const ports = await deadPorts(5);
    const group = new SentinelGroup(dir, ports.slice(0, 2), ports.slice(2));
    const [primary, replica] = group.nodes as [Node, Node];
    await group.startNode(primary);
    await group.startNode(replica, primary.port);
    await waitFor('the replica is in sync', async () =>
      String(await ask(replica.port, 'INFO', 'replication')).includes('master_link_status:up'),
    );
    for (const sentinel of group.sentinels) {
      await group.startSentinel(sentinel, primary.port);
    }
    await waitFor('every sentinel knows the replica and the other sentinels', async () => {
      for (const sentinel of group.sentinels) {
        const replicas = (await ask(sentinel.port, 'SENTINEL', 'REPLICAS', NAME)) as unknown[];
        const others = (await ask(sentinel.port, 'SENTINEL', 'SENTINELS', NAME)) as unknown[];
        if (replicas.length !== 1 || others.length !== group.sentinels.length - 1) {
          return false;
        }
      }
      return true;
    });
    return group;
  }

  // REDIS_SENTINELS for the service
  get sentinelList(): string {
    return this.sentinels.map(({ port }) => `127.0.0.1:${port}`).join(',');
  }

  // The primary's port, as every sentinel names it (undefined while they disagree).
  async primaryPort(): Promise<number | undefined> {
    const named = await Promise.all(
      this.sentinels.map(async ({ port }) => {
        const [, primaryPort] = (await ask(port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', NAME)) as [string, string];
        return Number(primaryPort);
      }),
    );
    return named.every((port) => port === named[0]) ? named[0] : undefined;
  }

  // SIGKILLs the primary; returns its port.
  async killPrimary(): Promise<number> {
    const port = await this.primaryPort();
    const node = this.nodes.find((candidate) => candidate.port === port);
    if (node?.process === undefined) {
      throw new Error(`no running primary (the sentinels name port ${String(port)})`);
    }
    const exited = once(node.process, 'exit');
    node.process.kill('SIGKILL');
    await exited;
    node.process = undefined;
    return node.port;
  }

  // Waits until every sentinel names a primary other than `oldPort`; returns its port.
  async waitForFailover(oldPort: number, timeoutMs = 60_000): Promise<number> {
    let promoted: number | undefined;
    await waitFor(
      'the sentinels promote a replica',
      async () => {
        promoted = await this.primaryPort();
        return promoted !== undefined && promoted !== oldPort;
      },
      timeoutMs,
    );
    return promoted!;
  }

  // Starts the killed node again as a replica of the current primary (as a restarted pod asks the
  // sentinels where the primary is), and waits until the primary counts it as connected.
  async restartAsReplica(port: number): Promise<void> {
    const node = this.nodes.find((candidate) => candidate.port === port);
    const primary = await this.primaryPort();
    if (node === undefined || node.process !== undefined || primary === undefined) {
      throw new Error(`port ${port} is not a stopped node of this group`);
    }
    await this.startNode(node, primary);
    await waitFor('the restarted node is a replica in sync', async () => {
      const info = String(await ask(primary, 'INFO', 'replication'));
      return /connected_slaves:1/.test(info) && /slave0:.*state=online/.test(info);
    });
  }

  async destroy(): Promise<void> {
    await Promise.all(
      [...this.sentinels, ...this.nodes].map(async (node) => {
        const running = node.process;
        node.process = undefined;
        if (running !== undefined && running.exitCode === null && running.signalCode === null) {
          const exited = once(running, 'exit');
          running.kill('SIGKILL');
          await exited;
        }
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async startNode(node: Node, replicaOf?: number): Promise<void> {
    const args = ['--port', String(node.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    args.push('--dir', this.dir, '--dbfilename', `dump-${node.port}.rdb`);
    if (replicaOf !== undefined) {
      args.push('--replicaof', '127.0.0.1', String(replicaOf));
    }
    node.process = this.spawn('redis-server', args);
    await waitFor(`redis-server on ${node.port} answers`, async () => (await ask(node.port, 'PING')) === 'PONG');
  }

  private async startSentinel(sentinel: Node, primaryPort: number): Promise<void> {
    // a sentinel rewrites its configuration file: one of its own, writable
    const conf = path.join(this.dir, `sentinel-${sentinel.port}.conf`);
    writeFileSync(
      conf,
      [
        `port ${sentinel.port}`,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `sentinel monitor ${NAME} 127.0.0.1 ${primaryPort} ${QUORUM}`,
        `sentinel down-after-milliseconds ${NAME} ${DOWN_AFTER_MS}`,
        `sentinel failover-timeout ${NAME} ${FAILOVER_TIMEOUT_MS}`,
        `sentinel parallel-syncs ${NAME} 1`,
        '',
      ].join('\n'),
    );
    sentinel.process = this.spawn('redis-sentinel', [conf]);
    await waitFor(
      `redis-sentinel on ${sentinel.port} answers`,
      async () => (await ask(sentinel.port, 'PING')) === 'PONG',
    );
  }

  private spawn(command: string, args: readonly string[]): ChildProcess {
    const child = spawn(command, args, { stdio: 'ignore' });
    this.children.push(child);
    return child;
  }
}
