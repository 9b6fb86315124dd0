/**
 * A small HDR-style (log-linear) latency histogram in integer microseconds.
 *
 * Values below 2,048 µs get a bucket each (exact); above that every power of two is split into
 * 1,024 buckets, so a reported value is at most 1/1024 (≈0.1%) above the true one. The whole range
 * 0 µs … 2^31 µs (≈36 min) fits in 23,552 counters; recording is two integer operations and an
 * increment, and histograms from several worker processes merge by adding counters, which sorted
 * samples could not do without shipping every sample between processes.
 */
const SUB_BUCKET_BITS = 11;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS; // 2048: exact below this
const HALF = SUB_BUCKETS >> 1; // 1024 buckets per further power of two
const MAX_VALUE = 2 ** 31 - 1;
const MAX_MAGNITUDE = 30; // floor(log2(MAX_VALUE))
export const HISTOGRAM_BUCKETS = SUB_BUCKETS + (MAX_MAGNITUDE - SUB_BUCKET_BITS + 1) * HALF;

/** Bucket index of a non-negative integer value (clamped to [0, 2^31-1]). */
export function bucketIndex(value: number): number {
  const v = value <= 0 ? 0 : value >= MAX_VALUE ? MAX_VALUE : Math.floor(value);
  if (v < SUB_BUCKETS) return v;
  const magnitude = 31 - Math.clz32(v); // >= 11
  const shift = magnitude - (SUB_BUCKET_BITS - 1); // >= 1
  return SUB_BUCKETS + (shift - 1) * HALF + ((v >>> shift) - HALF);
}

/** Lowest and highest value that land in bucket `index`. */
export function bucketRange(index: number): [number, number] {
  if (index < SUB_BUCKETS) return [index, index];
  const shift = Math.floor((index - SUB_BUCKETS) / HALF) + 1;
  const mantissa = ((index - SUB_BUCKETS) % HALF) + HALF;
  const low = mantissa * 2 ** shift;
  return [low, low + 2 ** shift - 1];
}

/** Sparse form for IPC and JSON: [bucket index, count] pairs. */
export type HistogramData = { buckets: [number, number][]; count: number; min: number; max: number; sum: number };

export class Histogram {
  readonly counts = new Float64Array(HISTOGRAM_BUCKETS);
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  sum = 0;

  record(valueUs: number): void {
    this.counts[bucketIndex(valueUs)]++;
    this.count++;
    if (valueUs < this.min) this.min = valueUs;
    if (valueUs > this.max) this.max = valueUs;
    this.sum += valueUs;
  }

  merge(other: Histogram | HistogramData): void {
    if (other instanceof Histogram) {
      for (let i = 0; i < HISTOGRAM_BUCKETS; i++) this.counts[i] += other.counts[i];
    } else {
      for (const [i, c] of other.buckets) this.counts[i] += c;
    }
    if (other.count > 0) {
      this.min = Math.min(this.min, other.min);
      this.max = Math.max(this.max, other.max);
    }
    this.count += other.count;
    this.sum += other.sum;
  }

  /**
   * Nearest-rank percentile (p in [0, 100]): the smallest recorded value v such that at least p% of
   * the samples are <= v, reported as the highest value of v's bucket (never below the truth) and
   * capped at the largest value recorded. 0 for an empty histogram.
   */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, p)) / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(bucketRange(i)[1], this.max);
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  toJSON(): HistogramData {
    const buckets: [number, number][] = [];
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) if (this.counts[i] > 0) buckets.push([i, this.counts[i]]);
    return { buckets, count: this.count, min: this.count === 0 ? 0 : this.min, max: this.max, sum: this.sum };
  }

  static from(data: HistogramData): Histogram {
    const h = new Histogram();
    h.merge(data);
    return h;
  }
}
