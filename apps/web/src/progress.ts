// What an upload tells as it goes: bytes hashed, bytes sent, the current rate and time left, and one
// figure for a progress bar: hashing is its first half and sending its second (when the file is
// read once, the two go on at once), never moving backwards, 100 only once complete answered 0.

export type Phase = 'hashing' | 'uploading' | 'completing' | 'done';

export interface UploadProgress {
  readonly phase: Phase;
  readonly size: number;
  readonly bytesHashed: number;
  // parts sent before a resume count as sent
  readonly bytesSent: number;
  // bytes per second of the current phase (hashing, or sending), over the last seconds; null until
  // it can be told
  readonly rate: number | null;
  readonly etaSeconds: number | null;
  readonly partsDone: number;
  readonly partsTotal: number;
  readonly resumedParts: number;
  // 0-100
  readonly percent: number;
}

// the rate is measured over this window
const WINDOW_MS = 3_000;
// the figures are told at most this often while the phase, the percentage and the parts done stay
// (each telling redraws the page's row)
const TELL_EVERY_MS = 250;

// A rate over the last WINDOW_MS of a growing count.
class Rate {
  private samples: { at: number; bytes: number }[] = [];

  add(bytes: number): void {
    const at = performance.now();
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && at - this.samples[0]!.at > WINDOW_MS) {
      this.samples.shift();
    }
  }

  perSecond(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined || last.at - first.at < 200) {
      return null;
    }
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }
}

export class ProgressTracker {
  private phase: Phase = 'hashing';
  private bytesHashed = 0;
  private bytesSent = 0;
  private partsDone = 0;
  private partsTotal = 0;
  private resumedParts = 0;
  private percent = 0;
  private told: { phase: Phase; percent: number; partsDone: number; at: number } | undefined;
  private readonly hashRate = new Rate();
  private readonly sendRate = new Rate();

  constructor(
    private readonly size: number,
    private readonly emit: (progress: UploadProgress) => void,
  ) {}

  hashed(bytes: number): void {
    this.bytesHashed = bytes;
    this.hashRate.add(bytes);
    this.tell();
  }

  startSending(partsTotal: number, resumedParts: number, bytesAlreadySent: number): void {
    this.phase = 'uploading';
    this.partsTotal = partsTotal;
    this.resumedParts = resumedParts;
    this.partsDone = resumedParts;
    this.bytesSent = bytesAlreadySent;
    this.sendRate.add(this.bytesSent);
    this.tell();
  }

  sent(delta: number): void {
    this.bytesSent += delta;
    this.sendRate.add(this.bytesSent);
    this.tell();
  }

  partDone(): void {
    this.partsDone++;
    this.tell();
  }

  completing(): void {
    this.phase = 'completing';
    this.bytesHashed = this.size;
    this.bytesSent = this.size;
    this.tell();
  }

  done(): void {
    this.phase = 'done';
    this.bytesHashed = this.size;
    this.bytesSent = this.size;
    this.tell();
  }

  private tell(): void {
    const sending = this.phase === 'uploading';
    const rate = sending ? this.sendRate.perSecond() : this.phase === 'hashing' ? this.hashRate.perSecond() : null;
    const remaining = this.size - (sending ? this.bytesSent : this.bytesHashed);
    const halves = this.size === 0 ? 0 : (this.bytesHashed + Math.max(0, this.bytesSent)) / (2 * this.size);
    this.percent = this.phase === 'done' ? 100 : Math.max(this.percent, Math.min(99, Math.floor(halves * 100)));
    const at = performance.now();
    const told = this.told;
    const same = told?.phase === this.phase && told.percent === this.percent && told.partsDone === this.partsDone;
    if (same && at - told.at < TELL_EVERY_MS) {
      return;
    }
    this.told = { phase: this.phase, percent: this.percent, partsDone: this.partsDone, at };
    this.emit({
      phase: this.phase,
      size: this.size,
      bytesHashed: this.bytesHashed,
      bytesSent: Math.max(0, this.bytesSent),
      rate,
      etaSeconds: rate === null || rate <= 0 ? null : Math.max(0, remaining) / rate,
      partsDone: this.partsDone,
      partsTotal: this.partsTotal,
      resumedParts: this.resumedParts,
      percent: this.percent,
    });
  }
}
