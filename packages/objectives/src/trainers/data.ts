/**
 * Deterministic data order: each epoch is a seeded permutation, and a single integer cursor (items
 * consumed so far) is the whole state, so a resumed run continues the same order.
 */
import { Rng } from '@falign/core';

/** Seeded, epoch-shuffled cursor over `size` items. */
export class DataCursor {
  private epochCache: { epoch: number; order: number[] } | null = null;

  constructor(
    readonly size: number,
    readonly seed: number,
    /** Items consumed so far (the resumable state). */
    public position = 0,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`DataCursor: the dataset is empty`);
  }

  private order(epoch: number): number[] {
    if (this.epochCache?.epoch !== epoch) {
      const rng = new Rng(this.seed).fork(epoch + 1);
      const order = [...Array(this.size).keys()];
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.nextInt(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      this.epochCache = { epoch, order };
    }
    return this.epochCache.order;
  }

  /** The next `n` item indices (crossing epochs as needed). */
  take(n: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < n; k++) {
      const epoch = Math.floor(this.position / this.size);
      out.push(this.order(epoch)[this.position % this.size]);
      this.position++;
    }
    return out;
  }
}
