/**
 * The message numbers one reader has acked. Small sets stay a Set; once a reader has acked
 * many messages it switches to a bitmap (1 bit per message), so a reader who acks everything
 * costs n/8 bytes rather than ~40 bytes per ack.
 */
const BITMAP_THRESHOLD = 4096;

export class ReadSet {
  private small: Set<number> | null = new Set();
  private bits: Uint8Array | null = null;

  has(n: number): boolean {
    if (this.small) return this.small.has(n);
    const byte = n >>> 3;
    return byte < this.bits!.length && (this.bits![byte] & (1 << (n & 7))) !== 0;
  }

  add(n: number): void {
    if (this.small) {
      this.small.add(n);
      if (this.small.size > BITMAP_THRESHOLD) this.toBitmap();
      return;
    }
    const byte = n >>> 3;
    if (byte >= this.bits!.length) {
      const bigger = new Uint8Array(Math.max(byte + 1, this.bits!.length * 2));
      bigger.set(this.bits!);
      this.bits = bigger;
    }
    this.bits![byte] |= 1 << (n & 7);
  }

  private toBitmap(): void {
    const values = this.small!;
    let max = 0;
    for (const v of values) if (v > max) max = v;
    this.bits = new Uint8Array((max >>> 3) + 1);
    this.small = null;
    for (const v of values) this.add(v);
  }
}
