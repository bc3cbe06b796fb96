// GPT-2's tanh GELU written as x·σ(x(A + B·x²)) (model/ops.ts), the arithmetic around the sigmoid
// in WebAssembly SIMD (AssemblyScript). Compiled by scripts/build-simd.mjs into
// src/kernels/simd/gelu-wasm.ts; pointers are byte offsets into tfjs-wasm's heap (the module
// imports its memory). Each f32x4 operation rounds per lane exactly as the op-by-op tfjs path
// rounds each op, in the same order, so results are identical to it; one pass over the data
// replaces 4 (forward, before the sigmoid) and 9 (backward) elementwise kernels.

/** u = x·(x²·B + A) for n floats (the sigmoid's argument). */
export function geluArg(x: usize, u: usize, n: i32, A: f32, B: f32): void {
  const va = f32x4.splat(A);
  const vb = f32x4.splat(B);
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const o = <usize>i << 2;
    const xv = v128.load(x + o);
    v128.store(u + o, f32x4.mul(xv, f32x4.add(f32x4.mul(f32x4.mul(xv, xv), vb), va)));
  }
  for (let i = n4; i < n; i++) {
    const o = <usize>i << 2;
    const xv = load<f32>(x + o);
    store<f32>(u + o, xv * (xv * xv * B + A));
  }
}

/** dx = dy·(s + (x·(s·(1 − s)))·(x²·3B + A)) for n floats, s = σ(u) from the forward pass. */
export function geluGrad(dy: usize, x: usize, s: usize, dx: usize, n: i32, A: f32, B3: f32): void {
  const va = f32x4.splat(A);
  const vb = f32x4.splat(B3);
  const one = f32x4.splat(1);
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const o = <usize>i << 2;
    const xv = v128.load(x + o);
    const sv = v128.load(s + o);
    const du = f32x4.add(f32x4.mul(f32x4.mul(xv, xv), vb), va);
    const xss = f32x4.mul(xv, f32x4.mul(sv, f32x4.sub(one, sv)));
    v128.store(dx + o, f32x4.mul(v128.load(dy + o), f32x4.add(sv, f32x4.mul(xss, du))));
  }
  for (let i = n4; i < n; i++) {
    const o = <usize>i << 2;
    const xv = load<f32>(x + o);
    const sv = load<f32>(s + o);
    const du = xv * xv * B3 + A;
    const xss = xv * (sv * (1 - sv));
    store<f32>(dx + o, load<f32>(dy + o) * (sv + xss * du));
  }
}
