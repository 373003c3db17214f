/**
 * YARN ProcfsBasedProcessTree.getProcessTreeDump: the table appended to a
 * memory kill's diagnostics. utime/stime are raw clock ticks despite the
 * MILLIS in the header, and rss is in pages — both as Hadoop prints them.
 */
import type { ProcessStat } from './process-tree.js';

export const PROCESS_TREE_DUMP_HEADER =
  '\t|- PID PPID PGRPID SESSID CMD_NAME USER_MODE_TIME(MILLIS) SYSTEM_TIME(MILLIS) VMEM_USAGE(BYTES) RSSMEM_USAGE(PAGES) FULL_CMD_LINE\n';

/** /proc/<pid>/cmdline as Hadoop's getCmdLine shows it: first line, NULs as spaces, `N/A` when empty. */
export function cmdlineForDump(raw: string | undefined): string {
  if (raw === undefined) return 'N/A';
  const end = raw.search(/[\r\n]/);
  const line = (end < 0 ? raw : raw.slice(0, end)).replaceAll('\0', ' ');
  return line === '' ? 'N/A' : line;
}

export function processTreeDump(members: ReadonlyArray<ProcessStat & { cmdline?: string }>): string {
  let out = PROCESS_TREE_DUMP_HEADER;
  for (const p of members) {
    out += `\t|- ${p.pid} ${p.ppid} ${p.pgrp} ${p.session} (${p.comm}) ${p.utime} ${p.stime} ${p.vsize} ${p.rssPages} ${p.cmdline ?? 'N/A'}\n`;
  }
  return out;
}
