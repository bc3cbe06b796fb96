/**
 * Switch for falign's fused kernels: on unless env FALIGN_FUSED=0, read at each call so that the
 * profiler can compare both paths in one process (and users have an escape hatch).
 */
export function fusedEnabled(): boolean {
  return process.env.FALIGN_FUSED !== '0';
}
