/**
 * The diagnostics YARN's ContainersMonitorImpl puts on the kills it asks for,
 * to the character: operators grep for these.
 */
import { long2String } from './long2string.js';

export interface MemoryUsage {
  pmemBytes: number;
  pmemLimit: number;
  vmemBytes: number;
  vmemLimit: number;
}

/** formatUsageString: `X of Y physical memory used; V of W virtual memory used`. */
export function usageString(u: MemoryUsage): string {
  return (
    `${long2String(u.pmemBytes, '', 1)}B of ${long2String(u.pmemLimit, '', 1)}B physical memory used; ` +
    `${long2String(u.vmemBytes, '', 1)}B of ${long2String(u.vmemLimit, '', 1)}B virtual memory used`
  );
}

/** formatErrorMessage: the -103/-104 kill message, with the process-tree dump. */
export function memoryKillMessage(
  kind: 'virtual' | 'physical',
  pid: number,
  containerId: string,
  usage: MemoryUsage,
  deltaBytes: number,
  dump: string,
): string {
  return (
    `Container [pid=${pid},containerID=${containerId}] is running ${deltaBytes}B beyond the '${kind.toUpperCase()}' memory limit. ` +
    `Current usage: ${usageString(usage)}. Killing container.\n` +
    `Dump of the process-tree for ${containerId} :\n${dump}`
  );
}

/** The log monitor's -109 message when one log directory is over its limit. */
export function logDirKillMessage(pid: number, containerId: string, limit: number, size: number, dir: string): string {
  return (
    `Container [pid=${pid},containerID=${containerId}] is logging beyond the container single log directory limit.\n` +
    `Limit: ${limit} Log Directory Size: ${size} Log Directory: ${dir}\nKilling container.\n`
  );
}

/** The log monitor's -109 message when all of the container's log directories together are over the limit. */
export function logTotalKillMessage(pid: number, containerId: string, limit: number, total: number): string {
  return (
    `Container [pid=${pid},containerID=${containerId}] is logging beyond the container total log limit.\n` +
    `Limit: ${limit} Total Size: >=${total}\nKilling container.\n`
  );
}
