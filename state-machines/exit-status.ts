/**
 * YARN's `ContainerExitStatus` (the container's final status, which a kill
 * makes sticky) and `ContainerExecutor.ExitCode` (what the process returned).
 */
export const ExitStatus = {
  SUCCESS: 0,
  INVALID: -1000,
  ABORTED: -100,
  DISKS_FAILED: -101,
  PREEMPTED: -102,
  KILLED_EXCEEDED_VMEM: -103,
  KILLED_EXCEEDED_PMEM: -104,
  KILLED_BY_APPMASTER: -105,
  KILLED_BY_RESOURCEMANAGER: -106,
  KILLED_AFTER_APP_COMPLETION: -107,
  KILLED_BY_CONTAINER_SCHEDULER: -108,
  KILLED_FOR_EXCESS_LOGS: -109,
} as const;

export const ExitCode = {
  SUCCESS: 0,
  FORCE_KILLED: 137,
  TERMINATED: 143,
  LOST: 154,
} as const;

/**
 * Which exit event a finished process produces, as YARN's
 * ContainerLaunch.handleContainerExitCode decides: 137 and 143 mean the process
 * was killed (by us or by someone else), other non-zero codes are failures.
 */
export function exitEventType(
  exitCode: number,
): 'CONTAINER_EXITED_WITH_SUCCESS' | 'CONTAINER_EXITED_WITH_FAILURE' | 'CONTAINER_KILLED_ON_REQUEST' {
  if (exitCode === ExitCode.FORCE_KILLED || exitCode === ExitCode.TERMINATED) return 'CONTAINER_KILLED_ON_REQUEST';
  return exitCode === 0 ? 'CONTAINER_EXITED_WITH_SUCCESS' : 'CONTAINER_EXITED_WITH_FAILURE';
}
