/**
 * The kernel's order of choice when the machine runs out of memory
 * (`/proc/<pid>/oom_score_adj`, -1000 to 1000: higher goes first), as kubelet
 * sets it: the daemon at -999, so it goes last; an OPPORTUNISTIC container
 * (kubelet's BestEffort) at 1000, so it goes first; a GUARANTEED one by
 * kubelet's Burstable formula, `1000 − 1000 × request / machine memory`,
 * clamped to [3, 999]: the more it asked for, the later it goes.
 */
import type { ExecutionType } from './types.js';

/** kubelet's `--oom-score-adj` default, for itself. */
export const DAEMON_OOM_SCORE_ADJ = -999;
/** kubelet's BestEffort. */
export const OPPORTUNISTIC_OOM_SCORE_ADJ = 1000;
/** kubelet's Burstable bounds: above Guaranteed pods' -997 + 1000, below BestEffort. */
export const MIN_GUARANTEED_OOM_SCORE_ADJ = 3;
export const MAX_GUARANTEED_OOM_SCORE_ADJ = 999;

export function containerOomScoreAdj(executionType: ExecutionType, requestBytes: number, machineBytes: number): number {
  if (executionType === 'OPPORTUNISTIC') return OPPORTUNISTIC_OOM_SCORE_ADJ;
  const adj = Math.floor(1000 - (1000 * requestBytes) / machineBytes);
  return Math.min(MAX_GUARANTEED_OOM_SCORE_ADJ, Math.max(MIN_GUARANTEED_OOM_SCORE_ADJ, adj));
}
