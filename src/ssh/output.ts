/**
 * Bounded capture of a command's output: the first HEAD bytes and the last TAIL bytes are kept,
 * what lies between is dropped (and counted), so a command printing gigabytes cannot exhaust the
 * controller's memory. The head holds what facts parse (file contents up to MAX_CONTENT, base64);
 * the tail holds what errors show.
 */
export const OUTPUT_HEAD_BYTES = 16 * 1024 * 1024;
export const OUTPUT_TAIL_BYTES = 1024 * 1024;

export class BoundedOutput {
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  /** Bytes received in all. */
  total = 0;

  constructor(
    private readonly headLimit = OUTPUT_HEAD_BYTES,
    private readonly tailLimit = OUTPUT_TAIL_BYTES,
  ) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.headBytes < this.headLimit) {
      const take = Math.min(chunk.length, this.headLimit - this.headBytes);
      this.head.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      this.headBytes += take;
      if (take === chunk.length) return;
      chunk = chunk.subarray(take);
    }
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    while (this.tailBytes - this.tail[0].length >= this.tailLimit) this.tailBytes -= this.tail.shift()!.length;
    if (this.tailBytes > this.tailLimit * 2) {
      // one big chunk: keep only its end (copied, so the rest can be freed)
      const all = Buffer.concat(this.tail);
      this.tail = [Buffer.from(all.subarray(all.length - this.tailLimit))];
      this.tailBytes = this.tailLimit;
    }
  }

  /** Bytes received but not kept. */
  get dropped(): number {
    return this.total - this.headBytes - Math.min(this.tailBytes, this.tailLimit);
  }

  toString(): string {
    const head = Buffer.concat(this.head).toString('utf8');
    if (this.tail.length === 0) return head;
    let tail = Buffer.concat(this.tail);
    if (tail.length > this.tailLimit) tail = tail.subarray(tail.length - this.tailLimit);
    const dropped = this.total - this.headBytes - tail.length;
    if (dropped <= 0) return head + tail.toString('utf8');
    return `${head}\n[provision: ${dropped} bytes of output dropped (kept the first ${this.headBytes} and the last ${tail.length} of ${this.total})]\n${tail.toString('utf8')}`;
  }
}
