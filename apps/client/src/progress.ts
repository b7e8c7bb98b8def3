// Progress on stderr: on a terminal one line redrawn in place (bar, bytes, rate, ETA); otherwise
// plain lines, one per 5 % and at least one every 2 s while bytes move, so logs stay readable.
import { MIB } from '@koodrive/limits';

const BAR_WIDTH = 24;
// the rate is taken over this much recent time, so it follows the network rather than the past
const RATE_WINDOW_MS = 5_000;
const TTY_REDRAW_MS = 100;
const PLAIN_STEP_PERCENT = 5;
const PLAIN_EVERY_MS = 2_000;

export interface ProgressSnapshot {
  readonly phase: string;
  readonly done: number;
  readonly total: number;
  // bytes per second, null while unknown
  readonly rate: number | null;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function formatRate(bytesPerSecond: number | null): string {
  return bytesPerSecond === null ? '-- MiB/s' : `${(bytesPerSecond / MIB).toFixed(1)} MiB/s`;
}

// h:mm:ss or m:ss; '--:--' while unknown
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) {
    return '--:--';
  }
  const whole = Math.ceil(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

export function renderBar(fraction: number, width = BAR_WIDTH): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

function fractionOf(snapshot: ProgressSnapshot): number {
  return snapshot.total === 0 ? 1 : snapshot.done / snapshot.total;
}

function etaOf(snapshot: ProgressSnapshot): number | null {
  if (snapshot.done >= snapshot.total) {
    return 0;
  }
  return snapshot.rate === null || snapshot.rate <= 0 ? null : (snapshot.total - snapshot.done) / snapshot.rate;
}

// `uploading [#########---------------]  38.5%  9.2 MiB/24.0 MiB  31.4 MiB/s  ETA 0:01`
export function ttyLine(snapshot: ProgressSnapshot): string {
  const percent = `${(fractionOf(snapshot) * 100).toFixed(1)}%`.padStart(6);
  return (
    `${snapshot.phase} ${renderBar(fractionOf(snapshot))} ${percent}  ` +
    `${formatBytes(snapshot.done)}/${formatBytes(snapshot.total)}  ${formatRate(snapshot.rate)}  ETA ${formatEta(etaOf(snapshot))}`
  );
}

// `uploading 40% 9.6 MiB/24.0 MiB 31.4 MiB/s ETA 0:01`
export function plainLine(snapshot: ProgressSnapshot): string {
  const percent = Math.floor(fractionOf(snapshot) * 100);
  return (
    `${snapshot.phase} ${percent}% ${formatBytes(snapshot.done)}/${formatBytes(snapshot.total)} ` +
    `${formatRate(snapshot.rate)} ETA ${formatEta(etaOf(snapshot))}`
  );
}

export interface ProgressOutput {
  write(text: string): unknown;
}

export interface ProgressOptions {
  readonly out: ProgressOutput;
  readonly tty: boolean;
  readonly now?: () => number;
}

// One phase's progress (hashing, then uploading). `start` counts bytes already done before this
// run (parts uploaded by an interrupted run) as done, but not into the rate.
export class ProgressReporter {
  private readonly now: () => number;
  private phase = '';
  private total = 0;
  private done = 0;
  private samples: { at: number; done: number }[] = [];
  private lastDraw = -Infinity;
  private lastPlainStep = -1;
  private lastPlainAt = 0;
  private lastPlainDone = -1;
  private drawn = false;
  private startedAt = 0;
  private startDone = 0;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? Date.now;
  }

  start(phase: string, total: number, alreadyDone = 0): void {
    this.phase = phase;
    this.total = total;
    this.done = alreadyDone;
    const at = this.now();
    this.samples = [{ at, done: alreadyDone }];
    this.startedAt = at;
    this.startDone = alreadyDone;
    this.lastDraw = -Infinity;
    this.lastPlainStep = -1;
    this.lastPlainAt = at;
    this.lastPlainDone = -1;
    this.drawn = false;
    this.draw(true);
  }

  add(bytes: number): void {
    this.done = Math.min(this.total, Math.max(0, this.done + bytes));
    this.draw(false);
  }

  // The phase's last line; ends the redrawn line on a terminal.
  finish(): void {
    this.draw(true);
    this.end();
  }

  // Leaves the terminal line as it is (interrupted, failed) so messages start on their own line.
  end(): void {
    if (this.options.tty && this.drawn) {
      this.options.out.write('\n');
    }
    this.drawn = false;
  }

  // bytes of this phase done in this run, and the time they took
  summary(): { readonly bytes: number; readonly ms: number } {
    return { bytes: this.done - this.startDone, ms: this.now() - this.startedAt };
  }

  snapshot(): ProgressSnapshot {
    return { phase: this.phase, done: this.done, total: this.total, rate: this.rate() };
  }

  private rate(): number | null {
    const at = this.now();
    this.samples.push({ at, done: this.done });
    while (this.samples.length > 2 && at - this.samples[1]!.at >= RATE_WINDOW_MS) {
      this.samples.shift();
    }
    const first = this.samples[0]!;
    const elapsed = at - first.at;
    // over less than a quarter of a second the rate is noise
    return elapsed < 250 ? null : ((this.done - first.done) * 1000) / elapsed;
  }

  private draw(force: boolean): void {
    const at = this.now();
    if (this.options.tty) {
      if (force || at - this.lastDraw >= TTY_REDRAW_MS) {
        this.lastDraw = at;
        this.drawn = true;
        this.options.out.write(`\r\x1b[2K${ttyLine(this.snapshot())}`);
      }
      return;
    }
    const step = Math.floor((this.total === 0 ? 100 : (this.done / this.total) * 100) / PLAIN_STEP_PERCENT);
    const moved = this.done !== this.lastPlainDone;
    if (step > this.lastPlainStep || (moved && at - this.lastPlainAt >= PLAIN_EVERY_MS)) {
      this.lastPlainStep = Math.max(this.lastPlainStep, step);
      this.lastPlainAt = at;
      this.lastPlainDone = this.done;
      this.options.out.write(`${plainLine(this.snapshot())}\n`);
    }
  }
}
