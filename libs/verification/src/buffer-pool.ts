// Range buffers kept from one read-back to the next, up to `limitBytes`: a fresh buffer costs the
// kernel a page fault per 4 KiB the first time bytes land in it, which is a large share of a small
// file's read-back. A request takes the smallest spare buffer at least as large (the caller uses
// its start), or a new one.
export class BufferPool {
  private readonly spare: Buffer[] = [];
  private spareBytes = 0;

  constructor(private readonly limitBytes: number) {}

  take(bytes: number): Buffer {
    let best = -1;
    this.spare.forEach((buffer, index) => {
      if (buffer.length >= bytes && (best === -1 || buffer.length < this.spare[best]!.length)) {
        best = index;
      }
    });
    if (best === -1) {
      return Buffer.allocUnsafeSlow(bytes);
    }
    const [buffer] = this.spare.splice(best, 1);
    this.spareBytes -= buffer!.length;
    return buffer!;
  }

  give(buffer: Buffer): void {
    if (this.spareBytes + buffer.length <= this.limitBytes) {
      this.spare.push(buffer);
      this.spareBytes += buffer.length;
    }
  }
}

// the read-backs' shared pool
export const rangeBuffers = new BufferPool(128 * 1024 * 1024);
