// LayerNorm / RMSNorm forward and backward over rows of D floats (D a multiple of 4), in
// WebAssembly SIMD (AssemblyScript). Compiled by scripts/build-simd.mjs into
// src/kernels/simd/norm-wasm.ts; pointers are byte offsets into tfjs-wasm's heap. Same formulas
// as kernels/norm-train.ts (which documents them), accumulated in float32 lanes.

// @ts-ignore: decorator
@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** y = x̂·γ (+ β), x̂ = (x − μ)·r; writes μ (0 for RMSNorm) and r per row. beta = 0: none. */
export function normForward(x: usize, gamma: usize, beta: usize, y: usize, mu: usize, rstd: usize, N: i32, D: i32, eps: f32, rms: i32): void {
  const invD: f32 = <f32>1 / <f32>D;
  for (let n = 0; n < N; n++) {
    const row = x + ((<usize>n * <usize>D) << 2);
    const out = y + ((<usize>n * <usize>D) << 2);
    let mean: f32 = 0;
    if (!rms) {
      let s = f32x4.splat(0);
      for (let j = 0; j < D; j += 4) s = f32x4.add(s, v128.load(row + (<usize>j << 2)));
      mean = hsum(s) * invD;
    }
    const vm = f32x4.splat(mean);
    let sq = f32x4.splat(0);
    for (let j = 0; j < D; j += 4) {
      const d = f32x4.sub(v128.load(row + (<usize>j << 2)), vm);
      sq = f32x4.add(sq, f32x4.mul(d, d));
    }
    const r: f32 = <f32>1 / Mathf.sqrt(hsum(sq) * invD + eps);
    store<f32>(mu + (<usize>n << 2), mean);
    store<f32>(rstd + (<usize>n << 2), r);
    const vr = f32x4.splat(r);
    for (let j = 0; j < D; j += 4) {
      const o = <usize>j << 2;
      let t = f32x4.mul(f32x4.mul(f32x4.sub(v128.load(row + o), vm), vr), v128.load(gamma + o));
      if (beta) t = f32x4.add(t, v128.load(beta + o));
      v128.store(out + o, t);
    }
  }
}

/** dx, dγ (and dβ unless dbeta = 0) from dy, x and the forward's μ, r. */
export function normBackward(dy: usize, x: usize, mu: usize, rstd: usize, gamma: usize, dx: usize, dgamma: usize, dbeta: usize, N: i32, D: i32, rms: i32): void {
  const invD: f32 = <f32>1 / <f32>D;
  for (let j = 0; j < D; j += 4) {
    v128.store(dgamma + (<usize>j << 2), f32x4.splat(0));
    if (dbeta) v128.store(dbeta + (<usize>j << 2), f32x4.splat(0));
  }
  for (let n = 0; n < N; n++) {
    const base = (<usize>n * <usize>D) << 2;
    const vm = f32x4.splat(rms ? <f32>0 : load<f32>(mu + (<usize>n << 2)));
    const r = load<f32>(rstd + (<usize>n << 2));
    const vr = f32x4.splat(r);
    let sG = f32x4.splat(0);
    let sGX = f32x4.splat(0);
    for (let j = 0; j < D; j += 4) {
      const o = <usize>j << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(x + base + o), vm), vr);
      const d = v128.load(dy + base + o);
      const g = f32x4.mul(d, v128.load(gamma + o));
      sG = f32x4.add(sG, g);
      sGX = f32x4.add(sGX, f32x4.mul(g, xh));
      v128.store(dgamma + o, f32x4.add(v128.load(dgamma + o), f32x4.mul(d, xh)));
      if (dbeta) v128.store(dbeta + o, f32x4.add(v128.load(dbeta + o), d));
    }
    const mG = f32x4.splat(rms ? <f32>0 : hsum(sG) * invD);
    const mGX = f32x4.splat(hsum(sGX) * invD);
    for (let j = 0; j < D; j += 4) {
      const o = <usize>j << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(x + base + o), vm), vr);
      const g = f32x4.mul(v128.load(dy + base + o), v128.load(gamma + o));
      v128.store(dx + base + o, f32x4.mul(vr, f32x4.sub(f32x4.sub(g, mG), f32x4.mul(xh, mGX))));
    }
  }
}

/**
 * Inference: s = x + r (when r ≠ 0; written to sum), then y = LayerNorm/RMSNorm(s) as in
 * normForward, without the row statistics.
 */
export function residualNorm(x: usize, r: usize, sum: usize, gamma: usize, beta: usize, y: usize, N: i32, D: i32, eps: f32, rms: i32): void {
  const invD: f32 = <f32>1 / <f32>D;
  for (let n = 0; n < N; n++) {
    const base = (<usize>n * <usize>D) << 2;
    let row = x + base;
    if (r) {
      for (let j = 0; j < D; j += 4) {
        const o = <usize>j << 2;
        v128.store(sum + base + o, f32x4.add(v128.load(x + base + o), v128.load(r + base + o)));
      }
      row = sum + base;
    }
    let mean: f32 = 0;
    if (!rms) {
      let s = f32x4.splat(0);
      for (let j = 0; j < D; j += 4) s = f32x4.add(s, v128.load(row + (<usize>j << 2)));
      mean = hsum(s) * invD;
    }
    const vm = f32x4.splat(mean);
    let sq = f32x4.splat(0);
    for (let j = 0; j < D; j += 4) {
      const d = f32x4.sub(v128.load(row + (<usize>j << 2)), vm);
      sq = f32x4.add(sq, f32x4.mul(d, d));
    }
    const vr = f32x4.splat(<f32>1 / Mathf.sqrt(hsum(sq) * invD + eps));
    for (let j = 0; j < D; j += 4) {
      const o = <usize>j << 2;
      let t = f32x4.mul(f32x4.mul(f32x4.sub(v128.load(row + o), vm), vr), v128.load(gamma + o));
      if (beta) t = f32x4.add(t, v128.load(beta + o));
      v128.store(y + base + o, t);
    }
  }
}
