/** Guard of bench:core's PyTorch reference: a ratio against the reference BLAS would be meaningless. */

/** Below this a 512³ GEMM is the reference BLAS (≈5 GFLOP/s), not OpenBLAS (>50; >15 even under heavy load). */
export const MIN_REFERENCE_GEMM_GFLOPS = 12;

/**
 * Why a ratio against this PyTorch run would be meaningless, or null. Debian's python3-torch
 * without libopenblas0-pthread silently runs the netlib reference BLAS, ~25× slower.
 */
export function referenceBlasProblem(t: { gemm_gflops: number; blas: string[] }): string | null {
  const reference = t.blas.filter((p) => /\/blas\/libblas\.so/.test(p) && !/openblas|mkl|blis|atlas/i.test(p));
  if (reference.length > 0) return `PyTorch loads the reference BLAS (${reference.join(', ')}); install libopenblas0-pthread`;
  if (!(t.gemm_gflops >= MIN_REFERENCE_GEMM_GFLOPS)) {
    return `PyTorch reaches ${t.gemm_gflops.toFixed(1)} GFLOP/s on a 512³ GEMM (< ${MIN_REFERENCE_GEMM_GFLOPS}): a reference BLAS, or a machine too loaded to compare`;
  }
  return null;
}

