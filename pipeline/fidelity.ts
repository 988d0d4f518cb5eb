/** Relative MSE and PSNR of outputs against a teacher's (pipeline/quality.ts), accumulated batch by batch. */
export class FidelityMeter {
  private squaredError = 0;
  private energy = 0;
  private values = 0;
  private min = Infinity;
  private max = -Infinity;

  add(outputs: Float32Array, targets: Float32Array): void {
    if (outputs.length !== targets.length) throw new Error(`fidelity: ${outputs.length} outputs for ${targets.length} targets`);
    for (let i = 0; i < outputs.length; i++) {
      const t = targets[i]!;
      const d = outputs[i]! - t;
      this.squaredError += d * d;
      this.energy += t * t;
      if (t < this.min) this.min = t;
      if (t > this.max) this.max = t;
    }
    this.values += outputs.length;
  }

  /** Σ(out − target)² / Σ target² (0 for identical outputs; NaN outputs make it Infinity). */
  relativeMse(): number {
    if (this.squaredError === 0) return 0;
    const r = this.squaredError / Math.max(this.energy, Number.MIN_VALUE);
    return Number.isNaN(r) ? Infinity : r;
  }

  /** 10·log10(range² / MSE) with the targets' range as the peak; null when the outputs are identical (infinite). */
  psnr(): number | null {
    const mse = this.values ? this.squaredError / this.values : 0;
    if (mse === 0) return null;
    if (Number.isNaN(mse)) return 0;
    const range = this.max - this.min || 1;
    return 10 * Math.log10((range * range) / mse);
  }
}

