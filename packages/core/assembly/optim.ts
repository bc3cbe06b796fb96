// AdamW update of one parameter in WebAssembly SIMD (AssemblyScript). Compiled by
// scripts/build-simd.mjs into src/kernels/simd/optim-wasm.ts; pointers are byte offsets into
// tfjs-wasm's heap (the module imports its memory). Each f32x4 operation rounds per lane exactly
// as the op-by-op tfjs path rounds each op, in the same order, so results are identical.
//
//   g' = g·gradScale; m' = m·b1 + g'·c1; v' = v·b2 + (g'·g')·c2   (c1 = 1 − b1, c2 = 1 − b2)
//   p' = p·decay − (m' / (√v' / bc2Sqrt + eps))·stepSize

export function adamw(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  hasMoments: i32,
  po: usize,
  mo: usize,
  vo: usize,
  n: i32,
  b1: f32,
  b2: f32,
  c1: f32,
  c2: f32,
  eps: f32,
  stepSize: f32,
  bc2Sqrt: f32,
  decay: f32,
  gradScale: f32,
): void {
  const vb1 = f32x4.splat(b1);
  const vb2 = f32x4.splat(b2);
  const vc1 = f32x4.splat(c1);
  const vc2 = f32x4.splat(c2);
  const veps = f32x4.splat(eps);
  const vss = f32x4.splat(stepSize);
  const vbc = f32x4.splat(bc2Sqrt);
  const vdec = f32x4.splat(decay);
  const vgs = f32x4.splat(gradScale);
  const zero = f32x4.splat(0);
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const o = <usize>i << 2;
    const gi = f32x4.mul(v128.load(g + o), vgs);
    const m0 = hasMoments ? v128.load(m + o) : zero;
    const v0 = hasMoments ? v128.load(v + o) : zero;
    const m1 = f32x4.add(f32x4.mul(m0, vb1), f32x4.mul(gi, vc1));
    const v1 = f32x4.add(f32x4.mul(v0, vb2), f32x4.mul(f32x4.mul(gi, gi), vc2));
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(v1), vbc), veps);
    const pd = f32x4.mul(v128.load(p + o), vdec);
    v128.store(po + o, f32x4.sub(pd, f32x4.mul(f32x4.div(m1, denom), vss)));
    v128.store(mo + o, m1);
    v128.store(vo + o, v1);
  }
  for (let i = n4; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o) * gradScale;
    const m0: f32 = hasMoments ? load<f32>(m + o) : 0;
    const v0: f32 = hasMoments ? load<f32>(v + o) : 0;
    const m1 = m0 * b1 + gi * c1;
    const v1 = v0 * b2 + gi * gi * c2;
    const denom = Mathf.sqrt(v1) / bc2Sqrt + eps;
    store<f32>(po + o, load<f32>(p + o) * decay - (m1 / denom) * stepSize);
    store<f32>(mo + o, m1);
    store<f32>(vo + o, v1);
  }
}
