// One-position (decoding) attention over a KV cache, in WebAssembly SIMD (AssemblyScript).
// Compiled by scripts/build-simd.mjs into src/kernels/simd/attention-wasm.ts; the module imports
// tfjs-wasm's memory, so every pointer below is an offset into tfjs-wasm's heap.
//
// q: rows of B queries, row b at q + 4·b·qRowStride, head h at + 4·h·hd.
// K, V: [B, Hkv, C, hd] capacity buffers; the first S rows of each (b, group) are used.
// mask: [B, S] keys (1 keep, 0 drop) as float32 (maskKind 1) or int32 (2), or none (0).
// out: [B, H, hd]. scores: scratch for S floats. hd must be a multiple of 4.

const MASK_VALUE: f32 = -1e9;

// e^x for x ≤ 0 (softmax after subtracting the maximum) without lookup tables: the module must
// not carry data segments, which would be written into tfjs-wasm's heap on instantiation.
// x = n·ln2 + r, |r| ≤ ln2/2; e^r by its degree-6 Taylor polynomial (relative error < 2e-7).
// @ts-ignore: decorator
@inline
function expNeg(x: f32): f32 {
  if (x < -87) return 0;
  const n = nearest<f32>(x * 1.4426950408889634);
  const r = x - n * 0.693145751953125 - n * 1.428606765330187e-6;
  const p: f32 = 1 + r * (1 + r * (0.5 + r * (0.16666667 + r * (0.041666668 + r * (0.008333334 + r * 0.0013888889)))));
  return p * reinterpret<f32>((<i32>n + 127) << 23);
}

export function decodeAttention(
  q: usize,
  qRowStride: i32,
  K: usize,
  V: usize,
  C: i32,
  Hkv: i32,
  H: i32,
  B: i32,
  S: i32,
  hd: i32,
  mask: usize,
  maskKind: i32,
  out: usize,
  scores: usize,
  scale: f32,
): void {
  const rep = H / Hkv;
  const rowBytes = <usize>(hd << 2);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = h / rep;
      const qo = q + <usize>((b * qRowStride + h * hd) << 2);
      const kbase = K + <usize>(((b * Hkv + g) * C * hd) << 2);
      const vbase = V + <usize>(((b * Hkv + g) * C * hd) << 2);
      let mx: f32 = -Infinity;
      for (let s = 0; s < S; s++) {
        const kp = kbase + <usize>s * rowBytes;
        let acc = f32x4.splat(0);
        for (let j = 0; j < hd; j += 4) {
          const o = <usize>(j << 2);
          acc = f32x4.add(acc, f32x4.mul(v128.load(qo + o), v128.load(kp + o)));
        }
        let sc: f32 = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
        sc *= scale;
        if (maskKind == 1) sc += (<f32>1 - load<f32>(mask + (<usize>(b * S + s) << 2))) * MASK_VALUE;
        else if (maskKind == 2) sc += (<f32>1 - <f32>load<i32>(mask + (<usize>(b * S + s) << 2))) * MASK_VALUE;
        store<f32>(scores + (<usize>s << 2), sc);
        if (sc > mx) mx = sc;
      }
      let z: f32 = 0;
      for (let s = 0; s < S; s++) {
        const e = expNeg(load<f32>(scores + (<usize>s << 2)) - mx);
        store<f32>(scores + (<usize>s << 2), e);
        z += e;
      }
      const iz: f32 = <f32>1 / z;
      const op = out + <usize>(((b * H + h) * hd) << 2);
      for (let j = 0; j < hd; j += 4) v128.store(op + <usize>(j << 2), f32x4.splat(0));
      for (let s = 0; s < S; s++) {
        const w = load<f32>(scores + (<usize>s << 2)) * iz;
        if (w == 0) continue;
        const wv = f32x4.splat(w);
        const vp = vbase + <usize>s * rowBytes;
        for (let j = 0; j < hd; j += 4) {
          const o = <usize>(j << 2);
          v128.store(op + o, f32x4.add(v128.load(op + o), f32x4.mul(wv, v128.load(vp + o))));
        }
      }
    }
  }
}
