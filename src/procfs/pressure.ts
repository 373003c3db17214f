/**
 * Pressure stall information (PSI, Linux 4.20+): `/proc/pressure/memory`,
 * the share of time some (or all) tasks waited for memory over the last 10,
 * 60 and 300 seconds, and the total stall in microseconds:
 *
 *     some avg10=0.00 avg60=0.00 avg300=0.00 total=659318
 *     full avg10=0.00 avg60=0.00 avg300=0.00 total=488838
 *
 * The same format is a v2 cgroup's `memory.pressure`.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { Pressure, PressureLine } from '../../state-machines/node-memory.js';

export type { Pressure, PressureLine };

const LINE = /^(some|full) avg10=(\d+(?:\.\d+)?) avg60=(\d+(?:\.\d+)?) avg300=(\d+(?:\.\d+)?) total=(\d+)$/;

/** The file's figures; null when it is not PSI (a corrupt or truncated file). */
export function parsePressure(text: string): Pressure | null {
  const lines: Partial<Record<'some' | 'full', PressureLine>> = {};
  for (const raw of text.split('\n')) {
    const m = LINE.exec(raw.trim());
    if (m) lines[m[1] as 'some' | 'full'] = { avg10: Number(m[2]), avg60: Number(m[3]), avg300: Number(m[4]), total: Number(m[5]) };
  }
  return lines.some ? { some: lines.some, full: lines.full ?? null } : null;
}

/** The node's memory pressure file under `procfsRoot`. */
export function procMemoryPressureFile(procfsRoot = '/proc'): string {
  return path.join(procfsRoot, 'pressure', 'memory');
}

/** A PSI file's figures; null where it is missing (no PSI, or psi=0) or not PSI. */
export function readPressureFile(file: string): Pressure | null {
  try {
    return parsePressure(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** The node's memory pressure under `procfsRoot`; null where the kernel has no PSI (or it is off: psi=0). */
export function readMemoryPressure(procfsRoot = '/proc'): Pressure | null {
  return readPressureFile(procMemoryPressureFile(procfsRoot));
}
