/** The package root: the library API (SPEC §9) and the daemon's building blocks. */
export { ProcfsProcessTree, type ProcfsProcessTreeOptions } from './procfs/procfs-process-tree.js';
export { ProcfsReader, type ProcfsScan } from './procfs/procfs-reader.js';
export { parseStatLine } from './procfs/stat-line.js';
export { isProcessTreeOverLimit, memoryLimits, containerLimits, milliVcoresUsed } from '../state-machines/limits.js';
export { long2String } from '../state-machines/long2string.js';
export { processTreeDump, PROCESS_TREE_DUMP_HEADER } from '../state-machines/process-tree-dump.js';
export type { ProcessStat, ProcessSample } from '../state-machines/process-tree.js';
export { containersMonitorMachine, monitorTick, type MonitorSettings, type MonitorEvent, type MonitorKill } from '../state-machines/containers-monitor.js';
export { NodeWarden, type NodeWardenOptions } from './node/nodewarden.js';
export type { ContainerView } from './node/container-view.js';
export type { MesosStatistics } from './monitor/containers-monitor.js';
export { loadConfig, resolveConfig, defaultConfig, ConfigError } from './config/index.js';
export type { Config } from './config/types.js';
export { containerMachine } from '../state-machines/container-machine.js';
export { ContainerScheduler } from '../state-machines/container-scheduler.js';
export { ExitStatus, ExitCode } from '../state-machines/exit-status.js';
export type * from '../state-machines/types.js';
