/**
 * `/proc/<pid>/smaps` as YARN's smaps-based RSS reads it: the `Anonymous:` kB
 * of every mapping whose permissions are not `r--s` or `r-xs` (shared
 * read-only mappings give nothing back when the process is killed). A value
 * longer than a stat field may be is not counted: no real smaps has one,
 * and summed it could make the tree's size Infinity.
 */
import { MAX_FIELD_DIGITS } from './stat-line.js';

const MAPPING = /^[0-9a-f]+-[0-9a-f]+\s+(\S+)/;
const ANONYMOUS = /^Anonymous:\s*(\d+)/;

export function anonymousKb(smaps: string): number {
  let total = 0;
  let counted = false;
  for (const line of smaps.split('\n')) {
    const mapping = MAPPING.exec(line);
    if (mapping !== null) {
      const perms = mapping[1]!.toLowerCase();
      counted = perms !== 'r--s' && perms !== 'r-xs';
      continue;
    }
    if (!counted) continue;
    const anon = ANONYMOUS.exec(line);
    if (anon !== null && anon[1]!.length <= MAX_FIELD_DIGITS) total += Number(anon[1]);
  }
  return total;
}
