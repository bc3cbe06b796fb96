import { describe, expect, it } from 'vitest';
import { referenceBlasProblem } from '../src/bench/reference-blas.js';

describe('referenceBlasProblem (bench:core refuses ratios against a reference BLAS)', () => {
  const openblas = ['/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3', '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so'];
  it('accepts OpenBLAS at OpenBLAS speed', () => {
    expect(referenceBlasProblem({ gemm_gflops: 123, blas: openblas })).toBeNull();
  });
  it("refuses Debian's netlib libblas by path, whatever the speed", () => {
    expect(referenceBlasProblem({ gemm_gflops: 60, blas: ['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3'] })).toMatch(/reference BLAS .*libopenblas0-pthread/);
  });
  it('refuses a reference-BLAS speed (4.6 GFLOP/s, as measured in issue 12) even when no library is listed', () => {
    expect(referenceBlasProblem({ gemm_gflops: 4.6, blas: [] })).toMatch(/4\.6 GFLOP\/s/);
    expect(referenceBlasProblem({ gemm_gflops: NaN, blas: openblas })).not.toBeNull();
  });
});
