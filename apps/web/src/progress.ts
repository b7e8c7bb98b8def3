// What an upload tells as it goes: bytes hashed, bytes sent, the current rate and time left, and one
// figure for a progress bar (hashing is its first half, sending its second; 100 only once complete
// answered 0).

export type Phase = 'hashing' | 'uploading' | 'completing' | 'done';

export interface UploadProgress {
  readonly phase: Phase;
  readonly size: number;
  readonly bytesHashed: number;
  // parts sent before a resume count as sent
  readonly bytesSent: number;
  // bytes per second of the current phase, over the last seconds; null until it can be told
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

export class ProgressTracker {
  private phase: Phase = 'hashing';
  private bytesHashed = 0;
  private bytesSent = 0;
  private partsDone = 0;
  private partsTotal = 0;
  private resumedParts = 0;
  private samples: { at: number; bytes: number }[] = [];

  constructor(
    private readonly size: number,
    private readonly emit: (progress: UploadProgress) => void,
  ) {}

  hashed(bytes: number): void {
    this.bytesHashed = bytes;
    this.sample(bytes);
    this.tell();
  }

  startSending(partsTotal: number, resumedParts: number, bytesAlreadySent: number): void {
    this.phase = 'uploading';
    this.bytesHashed = this.size;
    this.partsTotal = partsTotal;
    this.resumedParts = resumedParts;
    this.partsDone = resumedParts;
    this.bytesSent = bytesAlreadySent;
    this.samples = [];
    this.sample(this.bytesSent);
    this.tell();
  }

  sent(delta: number): void {
    this.bytesSent += delta;
    this.sample(this.bytesSent);
    this.tell();
  }

  partDone(): void {
    this.partsDone++;
    this.tell();
  }

  completing(): void {
    this.phase = 'completing';
    this.bytesSent = this.size;
    this.tell();
  }

  done(): void {
    this.phase = 'done';
    this.bytesHashed = this.size;
    this.bytesSent = this.size;
    this.tell();
  }

  private sample(bytes: number): void {
    const at = performance.now();
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && at - this.samples[0]!.at > WINDOW_MS) {
      this.samples.shift();
    }
  }

  private rate(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined || last.at - first.at < 200) {
      return null;
    }
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }

  private tell(): void {
    const rate = this.phase === 'hashing' || this.phase === 'uploading' ? this.rate() : null;
    const remaining = this.size - (this.phase === 'hashing' ? this.bytesHashed : this.bytesSent);
    const halves = this.size === 0 ? 0 : (this.bytesHashed + Math.max(0, this.bytesSent)) / (2 * this.size);
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
      percent: this.phase === 'done' ? 100 : Math.min(99, Math.floor(halves * 100)),
    });
  }
}
