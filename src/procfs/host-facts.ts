/**
 * The host numbers the process-tree math needs: page size and clock ticks per
 * second (what YARN asks `getconf` for) and the number of processors.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { HostFacts } from '../../state-machines/containers-monitor.js';

function getconf(name: string, fallback: number): number {
  try {
    const n = Number(execFileSync('getconf', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(n) && n > 0 ? n : fallback;
  } catch {
    return fallback;
  }
}

let cached: HostFacts | undefined;

export function hostFacts(): HostFacts {
  return (cached ??= {
    processors: Math.max(1, os.cpus().length),
    pageSize: getconf('PAGESIZE', 4096),
    clockTicks: getconf('CLK_TCK', 100),
  });
}
