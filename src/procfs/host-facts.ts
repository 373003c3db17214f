/**
 * The host numbers the process-tree math needs: page size and clock ticks per
 * second (what YARN asks `getconf` for) and the number of processors.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
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

/**
 * The kernel's id of this boot. A pid and its start time name one process
 * only within a boot; null where the kernel does not say (recovery then
 * trusts pid and start time alone).
 */
export function bootId(): string | null {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}
