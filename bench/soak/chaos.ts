// What happens to the replicas while the soak's load runs: a rolling restart of every replica, one
// at a time as a Deployment rolls (SIGTERM, wait for the exit, start it again, wait for /readyz and
// for haproxy to count it in, then the next), and later one replica SIGKILLed (the one with the
// most requests open, at a moment when completions are running, so that it most likely dies holding
// one) and started again after a while: its leases lapse and the completions it held are taken over.
// So that it surely holds one, an upload is planted on it: its complete is sent straight to that
// replica, and the SIGKILL comes as soon as that file is COMPLETING (claimed there).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Haproxy, ServerStats } from './haproxy.ts';
import type { Interval } from './client.ts';
import type { Replica, ReplicaExit } from './replicas.ts';

export interface ChaosPlan {
  readonly rollAtMs: number;
  // the kill comes at this time, or once the rolling restart is over if that is later
  readonly killAtMs: number;
  readonly killedForMs: number;
  // how long after the killed replica is back its lapsed leases may still be finishing
  readonly leaseMs: number;
}

export interface Restart extends ReplicaExit {
  // from the start of the new process to /readyz 200
  readonly readySeconds: number;
}

export interface ChaosLog {
  readonly restarts: Restart[];
  rolling?: Interval;
  // from the SIGKILL to the killed replica's leases lapsing after it is back
  killed?: Interval & {
    readonly replica: string;
    readonly requestsOpen: number;
    readonly completing: number;
    // the planted upload, and whether its completion was claimed on the replica when it was killed
    readonly planted: string | undefined;
    readonly plantedClaimed: boolean;
  };
}

export interface ChaosProbes {
  // files COMPLETING now
  completingNow(): Promise<number>;
  statusOf(fileId: string): Promise<string | undefined>;
  // starts an upload whose first complete goes to `replicaUrl`
  plant(replicaUrl: string, onCompleteSent: (fileId: string) => void): void;
}

// Plants an upload on the replica and waits (up to `waitMs`) until its completion is claimed
// there; returns its fileId and whether it was.
async function plantOn(replica: Replica, probes: ChaosProbes, waitMs: number): Promise<[string | undefined, boolean]> {
  let fileId: string | undefined;
  probes.plant(replica.url, (id) => (fileId = id));
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (fileId !== undefined && (await probes.statusOf(fileId)) === 'COMPLETING') {
      return [fileId, true];
    }
    await sleep(fileId === undefined ? 100 : 5);
  }
  return [fileId, false];
}

// Waits (up to `waitMs`) for a replica with 2 or more requests open while 2 or more completions
// run (files COMPLETING, on any replica), and names the busiest then.
async function victimOf(
  haproxy: Haproxy,
  completingNow: () => Promise<number>,
  waitMs: number,
): Promise<{ busiest: ServerStats; completing: number }> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const busiest = (await haproxy.stats()).reduce((most, server) => (server.current > most.current ? server : most));
    const completing = await completingNow();
    if ((busiest.current >= 2 && completing >= 2) || Date.now() > deadline) {
      return { busiest, completing };
    }
    await sleep(100);
  }
}

export async function runChaos(
  replicas: readonly Replica[],
  haproxy: Haproxy,
  plan: ChaosPlan,
  probes: ChaosProbes,
  now: () => number,
  soakStarted: number,
): Promise<ChaosLog> {
  const log: ChaosLog = { restarts: [] };
  const restart = async (replica: Replica, signal: ReplicaExit['sent'], downMs: number): Promise<void> => {
    const exit = await replica.stop(signal, soakStarted);
    await sleep(downMs);
    const readySeconds = await replica.start();
    await haproxy.waitFor(replica.name, true);
    log.restarts.push({ ...exit, readySeconds });
  };

  await sleep(Math.max(0, plan.rollAtMs - now()));
  const rollStart = now();
  for (const replica of replicas) {
    await restart(replica, 'SIGTERM', 0);
  }
  log.rolling = { startMs: rollStart, endMs: now() };

  await sleep(Math.max(0, plan.killAtMs - now()));
  const { busiest, completing } = await victimOf(haproxy, () => probes.completingNow(), 30_000);
  const victim = replicas.find((replica) => replica.name === busiest.name)!;
  const [planted, plantedClaimed] = await plantOn(victim, probes, 60_000);
  const killStart = now();
  await restart(victim, 'SIGKILL', plan.killedForMs);
  log.killed = {
    replica: victim.name,
    requestsOpen: busiest.current,
    completing,
    planted,
    plantedClaimed,
    startMs: killStart,
    endMs: now() + plan.leaseMs,
  };
  return log;
}
