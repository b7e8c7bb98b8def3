// The local RGW keeps objects in its OSD's RAM (memstore) and frees a deleted object's bytes only
// at its garbage collection, 30 s or more later: a benchmark writing gigabytes a minute would fill
// it, and a full OSD hangs every write. So before each upload the bench waits until the OSD has
// room, running RGW's garbage collection meanwhile (it only frees what is already deleted).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

// Ceph warns at 85% and stops writes at 95%: stay well below, others' tests share the OSD.
const HIGH_WATER = 0.75;
const WAIT_MS = 180_000;

export class RgwRoom {
  readonly #conf: string;

  private constructor(conf: string) {
    this.#conf = conf;
  }

  // null when the services' Ceph is not ours to ask (no ceph.conf in the services' directory)
  static at(conf: string): RgwRoom | null {
    return existsSync(conf) ? new RgwRoom(conf) : null;
  }

  async waitFor(bytes: number): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const { used, total } = await this.#osdBytes();
      if (used + bytes <= HIGH_WATER * total) {
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `RGW's OSD has no room for ${bytes} more bytes: ${used} of ${total} used by others' objects ` +
            '(run the bench on a Ceph of its own: SERVICES_DIR, RGW_PORT, MON_PORT, CEPH_MEMSTORE_BYTES)',
        );
      }
      await run('radosgw-admin', ['-c', this.#conf, 'gc', 'process', '--include-all'], { timeout: 60_000 });
      await sleep(1000);
    }
  }

  async #osdBytes(): Promise<{ used: number; total: number }> {
    const { stdout } = await run('ceph', ['-c', this.#conf, 'daemon', 'osd.0', 'perf', 'dump'], {
      timeout: 30_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const osd = (JSON.parse(stdout) as { osd?: { stat_bytes?: number; stat_bytes_used?: number } }).osd;
    if (osd?.stat_bytes === undefined || osd.stat_bytes_used === undefined) {
      throw new Error("no stat_bytes in the OSD's perf dump");
    }
    return { used: osd.stat_bytes_used, total: osd.stat_bytes };
  }
}
