// Weight-gradient products of linear layers in WebAssembly SIMD (AssemblyScript). Compiled by
// scripts/build-simd.mjs into src/kernels/simd/gemm-wasm.ts; pointers are byte offsets into
// tfjs-wasm's heap (the module imports its memory).
//
// gemmTN: C[M, N] = Aᵀ · B for A [K, M] and B [K, N], all row-major: dW = xᵀ·dy with x [tokens,
// in] and dy [tokens, out]. tfjs-wasm's XNNPACK path needs xᵀ materialised (a transpose) and packs
// its right operand on every call, which for dy (1024 × 384 floats) costs more than the product
// itself (~7 ns a float, measured). Here both operands are read in place, row p of A and of B
// together: C[i, j] += A[p, i] · B[p, j] (a rank-1 update per p), so no transpose and no packing.
//
// Blocking: a 4 × 8 register tile of C (8 f32x4 accumulators; V8 has 16 xmm registers), the K
// loop cut into chunks of KC rows (the first chunk stores C, later ones add to it) and N into
// blocks of NC columns, so that a tile's A panel stays in L1 while it walks along a block of B
// that stays in L2 (a wide B, e.g. an LM head, is then not streamed from memory per row block).
//
// gemmNN: C = A·B (+ bias) with the same tile, A read along its rows: forward products and
// dx = dy·Wᵀ (after transposing the small W) without XNNPACK's packing of the right operand on
// every call (W changes every step), and batched for attention's per-head products, where
// tfjs-wasm creates one XNNPACK operator per head and call.
//
// colSum: out[N] = Σ_p B[p, :] (the bias gradient), f32x4 over columns.

const KC: i32 = 256;
/** Columns per block: a KC × NC block of B (256 KiB) stays in L2 while the row tiles walk over it. */
const NC: i32 = 256;

// A(i, p) = load<f32>(a + i·ra + p·rp) with byte strides ra (between rows of C) and rp (along the
// sum): Aᵀ·B for A [K, M] is ra = 4, rp = 4M; A·B for A [M, K] is ra = 4K, rp = 4. For Aᵀ·B the 4
// rows of a row block are first copied, for one chunk of the sum, into a contiguous panel (4
// floats per p) at `pk`: with power-of-two strides (Aᵀ·B with M = 128: 512 bytes) the strided panel maps onto
// a few L1 sets and is evicted between the tiles that reuse it (measured 39 GFLOP/s for dW
// before, the speed of A·B after).
@inline
function packPanel(a: usize, pk: usize, k0: i32, k1: i32, ra: usize, rp: usize): void {
  let pa = a + <usize>k0 * rp;
  let o = pk;
  if (ra === 4) {
    for (let p = k0; p < k1; p++) {
      v128.store(o, v128.load(pa));
      pa += rp;
      o += 16;
    }
    return;
  }
  for (let p = k0; p < k1; p++) {
    store<f32>(o, load<f32>(pa));
    store<f32>(o, load<f32>(pa + ra), 4);
    store<f32>(o, load<f32>(pa + 2 * ra), 8);
    store<f32>(o, load<f32>(pa + 3 * ra), 12);
    pa += rp;
    o += 16;
  }
}

/**
 * A 4 × 8 tile of C over sum rows k0..k1; A(i + r, p) at pa + r·ra + (p − k0)·rp, pa pointing
 * at row p = k0 (a packed panel: ra = 4, rp = 16).
 */
@inline
function tile4x8(pa: usize, ra: usize, rp: usize, b: usize, c: usize, bias: usize, k0: i32, k1: i32, N: i32, first: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const sb = <usize>N << 2;
  let pb = b + <usize>k0 * sb;
  const ra2 = ra + ra;
  const ra3 = ra2 + ra;
  for (let p = k0; p < k1; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    const a0 = v128.load32_splat(pa);
    const a1 = v128.load32_splat(pa + ra);
    const a2 = v128.load32_splat(pa + ra2);
    const a3 = v128.load32_splat(pa + ra3);
    c00 = f32x4.add(c00, f32x4.mul(a0, b0));
    c01 = f32x4.add(c01, f32x4.mul(a0, b1));
    c10 = f32x4.add(c10, f32x4.mul(a1, b0));
    c11 = f32x4.add(c11, f32x4.mul(a1, b1));
    c20 = f32x4.add(c20, f32x4.mul(a2, b0));
    c21 = f32x4.add(c21, f32x4.mul(a2, b1));
    c30 = f32x4.add(c30, f32x4.mul(a3, b0));
    c31 = f32x4.add(c31, f32x4.mul(a3, b1));
    pa += rp;
    pb += sb;
  }
  if (!first) {
    c00 = f32x4.add(c00, v128.load(c));
    c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c + sb));
    c11 = f32x4.add(c11, v128.load(c + sb, 16));
    c20 = f32x4.add(c20, v128.load(c + 2 * sb));
    c21 = f32x4.add(c21, v128.load(c + 2 * sb, 16));
    c30 = f32x4.add(c30, v128.load(c + 3 * sb));
    c31 = f32x4.add(c31, v128.load(c + 3 * sb, 16));
  } else if (bias) {
    const v0 = v128.load(bias);
    const v1 = v128.load(bias, 16);
    c00 = f32x4.add(c00, v0);
    c01 = f32x4.add(c01, v1);
    c10 = f32x4.add(c10, v0);
    c11 = f32x4.add(c11, v1);
    c20 = f32x4.add(c20, v0);
    c21 = f32x4.add(c21, v1);
    c30 = f32x4.add(c30, v0);
    c31 = f32x4.add(c31, v1);
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + sb, c10);
  v128.store(c + sb, c11, 16);
  v128.store(c + 2 * sb, c20);
  v128.store(c + 2 * sb, c21, 16);
  v128.store(c + 3 * sb, c30);
  v128.store(c + 3 * sb, c31, 16);
}

/** One element C[i, j] over rows k0..k1 (edges that do not fill a tile). */
@inline
function scalar(a: usize, b: usize, c: usize, bias: usize, i: i32, j: i32, k0: i32, k1: i32, ra: usize, rp: usize, N: i32, first: bool): void {
  let s: f32 = 0;
  let pa = a + <usize>i * ra + <usize>k0 * rp;
  let pb = b + ((<usize>k0 * N + j) << 2);
  const sb = <usize>N << 2;
  for (let p = k0; p < k1; p++) {
    s += load<f32>(pa) * load<f32>(pb);
    pa += rp;
    pb += sb;
  }
  const o = c + ((<usize>i * N + j) << 2);
  store<f32>(o, first ? (bias ? load<f32>(bias + (<usize>j << 2)) + s : s) : load<f32>(o) + s);
}

/**
 * C [M, N] = A·B (+ bias [N] when bias ≠ 0) for B [K, N] row-major and A read with byte strides
 * ra / rp (see tile4x8). K = 0 gives the bias (or zeros).
 */
export function gemm(a: usize, b: usize, c: usize, bias: usize, K: i32, M: i32, N: i32, ra: usize, rp: usize, scratch: usize): void {
  const M4 = M & ~3;
  const N8 = N & ~7;
  if (K === 0) {
    for (let i = 0; i < M; i++) {
      if (bias) memory.copy(c + ((<usize>i * N) << 2), bias, <usize>N << 2);
      else memory.fill(c + ((<usize>i * N) << 2), 0, <usize>N << 2);
    }
    return;
  }
  for (let k0 = 0; k0 < K; k0 += KC) {
    const k1 = min(k0 + KC, K);
    const first = k0 === 0;
    for (let j0 = 0; j0 < N8; j0 += NC) {
      const j1 = min(j0 + NC, N8);
      for (let i = 0; i < M4; i += 4) {
        const ci = c + ((<usize>i * N) << 2);
        // A strided along the sum (Aᵀ·B) is packed first; A·B reads its 4 rows in place (4
        // sequential streams; packing did not pay for attention's short products).
        let pa = a + <usize>i * ra + <usize>k0 * rp;
        let tra = ra;
        let trp = rp;
        if (rp !== 4) {
          packPanel(a + <usize>i * ra, scratch, k0, k1, ra, rp);
          pa = scratch;
          tra = 4;
          trp = 16;
        }
        for (let j = j0; j < j1; j += 8) tile4x8(pa, tra, trp, b + (<usize>j << 2), ci + (<usize>j << 2), bias ? bias + (<usize>j << 2) : 0, k0, k1, N, first);
      }
    }
    for (let i = 0; i < M4; i++) for (let j = N8; j < N; j++) scalar(a, b, c, bias, i, j, k0, k1, ra, rp, N, first);
    for (let i = M4; i < M; i++) for (let j = 0; j < N; j++) scalar(a, b, c, bias, i, j, k0, k1, ra, rp, N, first);
  }
}

/** Bytes of scratch memory the caller passes to every product (one packed 4 × KC panel). */
export function scratchBytes(): i32 {
  return KC * 16;
}

/** C [M, N] = Aᵀ·B for A [K, M], B [K, N] (dW = xᵀ·dy). */
export function gemmTN(a: usize, b: usize, c: usize, K: i32, M: i32, N: i32, scratch: usize): void {
  gemm(a, b, c, 0, K, M, N, 4, <usize>M << 2, scratch);
}

/**
 * C [M, N] = Aᵀ·B for A the first M columns of a row-major [K, lda] matrix at `a` (a block of
 * columns: `a` offset by its first column), B [K, N]: a block of rows of gemmTN's C, for splitting
 * dW between threads by its rows. Every element of C is summed over p in the same order whatever
 * M, lda or the tile it falls in (a tile lane and the scalar edge both add A·B products to a zero
 * start, chunk by chunk of KC rows), so row blocks are bit-identical to the whole product.
 */
export function gemmTNCols(a: usize, b: usize, c: usize, K: i32, M: i32, N: i32, lda: i32, scratch: usize): void {
  gemm(a, b, c, 0, K, M, N, 4, <usize>lda << 2, scratch);
}

/** C [M, N] = A·B (+ bias) for A [M, K], B [K, N]. */
export function gemmNN(a: usize, b: usize, c: usize, bias: usize, K: i32, M: i32, N: i32, scratch: usize): void {
  gemm(a, b, c, bias, K, M, N, <usize>K << 2, 4, scratch);
}

/**
 * Batched C[e] = A[e]·B[e] for `batch` entries laid out one after the other; with sharedB ≠ 0
 * every entry uses the one B.
 */
export function gemmNNBatched(a: usize, b: usize, c: usize, batch: i32, K: i32, M: i32, N: i32, sharedB: i32, scratch: usize): void {
  const sa = (<usize>M * K) << 2;
  const sb: usize = sharedB ? 0 : (<usize>K * N) << 2;
  const sc = (<usize>M * N) << 2;
  for (let e: usize = 0; e < <usize>batch; e++) gemm(a + e * sa, b + e * sb, c + e * sc, 0, K, M, N, <usize>K << 2, 4, scratch);
}

export function colSum(b: usize, out: usize, K: i32, N: i32): void {
  const N4 = N & ~3;
  const sb = <usize>N << 2;
  for (let j = 0; j < N4; j += 4) {
    let s = f32x4.splat(0);
    let pb = b + (<usize>j << 2);
    for (let p = 0; p < K; p++) {
      s = f32x4.add(s, v128.load(pb));
      pb += sb;
    }
    v128.store(out + (<usize>j << 2), s);
  }
  for (let j = N4; j < N; j++) {
    let s: f32 = 0;
    for (let p = 0; p < K; p++) s += load<f32>(b + ((<usize>p * N + j) << 2));
    store<f32>(out + (<usize>j << 2), s);
  }
}
