/**
 * `/proc/<pid>/oom_score_adj`: where the kernel's OOM killer looks first
 * (state-machines/oom-score.ts says what each process gets).
 */
import fs from 'node:fs';

/**
 * Set the daemon's own. Lowering it needs CAP_SYS_RESOURCE, which root may
 * lack (a container's bounding set): then the reason says so, and the
 * daemon runs at what it inherited.
 */
export function setOwnOomScoreAdj(value: number): { ok: true } | { ok: false; reason: string } {
  try {
    fs.writeFileSync('/proc/self/oom_score_adj', String(value));
    return { ok: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'an error';
    return { ok: false, reason: `the kernel refused it (${code}): lowering it needs CAP_SYS_RESOURCE` };
  }
}

/** A process's value, or null when it is gone or unreadable. */
export function readOomScoreAdj(pid: number | 'self'): number | null {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim());
  } catch {
    return null;
  }
}
