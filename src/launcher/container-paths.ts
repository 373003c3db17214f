/**
 * Where one container lives on disk (SPEC §4): `<work-dir>/containers/<id>/`
 * with the launch wrapper, the pid and exit-code files recovery reads, and the
 * captured stdout/stderr.
 */
import path from 'node:path';

export interface ContainerPaths {
  /** `<workDir>/containers/<id>` — also the container's working directory. */
  dir: string;
  /** `launch_container.sh`, the bash wrapper. */
  script: string;
  /** `<id>.pid`, written by the wrapper (its own pid, the session/group leader). */
  pidFile: string;
  /** `<id>.pid.exitcode`, written by the wrapper when the command ends. */
  exitCodeFile: string;
  /** `logs/` */
  logDir: string;
  /** `logs/stdout` */
  stdout: string;
  /** `logs/stderr` */
  stderr: string;
}

/**
 * Container ids are validated against `^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`
 * where requests come in; this is the last line of defence before an id
 * becomes a path component (and a file name inside the launch script).
 */
export function assertSafeContainerId(id: string): void {
  if (typeof id !== 'string' || id === '' || id === '.' || id === '..' || id.includes('/')) {
    throw new Error(`unsafe container id ${JSON.stringify(id)}: must be one path component`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(id)) {
    throw new Error(`unsafe container id ${JSON.stringify(id)}: control characters`);
  }
}

export function containerPaths(workDir: string, id: string): ContainerPaths {
  assertSafeContainerId(id);
  const dir = path.join(path.resolve(workDir), 'containers', id);
  const logDir = path.join(dir, 'logs');
  return {
    dir,
    script: path.join(dir, 'launch_container.sh'),
    pidFile: path.join(dir, `${id}.pid`),
    exitCodeFile: path.join(dir, `${id}.pid.exitcode`),
    logDir,
    stdout: path.join(logDir, 'stdout'),
    stderr: path.join(logDir, 'stderr'),
  };
}
