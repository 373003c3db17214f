/** The daemon's paths (SPEC §1): flag, then environment variable, then default. */
export interface DaemonPaths {
  socket: string;
  db: string;
  workDir: string;
}

export function daemonPaths(options: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): DaemonPaths {
  const pick = (flag: string, variable: string, fallback: string): string =>
    (options[flag] as string | undefined) ?? env[variable] ?? fallback;
  return {
    socket: pick('socket', 'NODEWARDEN_SOCKET', 'var/nodewarden.sock'),
    db: pick('db', 'NODEWARDEN_DB', 'db/nodewarden.sqlite'),
    workDir: pick('work-dir', 'NODEWARDEN_WORK_DIR', 'var/'),
  };
}
