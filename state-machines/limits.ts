/**
 * Memory limits as YARN computes them (ContainersMonitorImpl): pmem in bytes,
 * vmem = (long)(ratio * pmem) where ratio is a Java float, so the product is
 * float32 arithmetic. 1024 MB × 2.1 → 2254857728, not 2254857830.
 */
export function memoryLimits(memoryMb: number, vmemPmemRatio: number): { pmemBytes: number; vmemBytes: number } {
  const pmemBytes = memoryMb * 1024 * 1024;
  const vmemBytes = Math.trunc(Math.fround(Math.fround(vmemPmemRatio) * Math.fround(pmemBytes)));
  return { pmemBytes, vmemBytes };
}
