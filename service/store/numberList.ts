/**
 * A growable list of numbers on a typed array: 4 or 8 bytes per entry instead of a
 * JS array's boxed slots, which is what lets a million messages' metadata fit in a few MB.
 */
export class NumberList {
  private data: Int32Array | Float64Array;
  private size = 0;

  constructor(
    private readonly kind: "int32" | "float64" = "int32",
    capacity = 64,
  ) {
    this.data = kind === "int32" ? new Int32Array(capacity) : new Float64Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  get(i: number): number {
    return this.data[i];
  }

  set(i: number, value: number): void {
    this.data[i] = value;
  }

  push(value: number): void {
    if (this.size === this.data.length) {
      const bigger = this.kind === "int32" ? new Int32Array(this.size * 2) : new Float64Array(this.size * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.size++] = value;
  }

  /** First index whose value is >= value (the list must be sorted ascending). */
  lowerBound(value: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.data[mid] < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
