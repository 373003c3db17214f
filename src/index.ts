/** The package root: the library API (SPEC §9) and the daemon's building blocks. */
export { NodeWarden, type NodeWardenOptions } from './node/nodewarden.js';
export type { ContainerView } from './node/container-view.js';
export { loadConfig, resolveConfig, defaultConfig, ConfigError } from './config/index.js';
export type { Config } from './config/types.js';
export { memoryLimits } from '../state-machines/limits.js';
export { containerMachine } from '../state-machines/container-machine.js';
export { ContainerScheduler } from '../state-machines/container-scheduler.js';
export { ExitStatus, ExitCode } from '../state-machines/exit-status.js';
export type * from '../state-machines/types.js';
