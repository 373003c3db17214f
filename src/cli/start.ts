/** `nodewarden start`: run the daemon in the foreground until SIGINT or SIGTERM. */
import { loadConfig } from '../config/load.js';
import { keepsContainersOnShutdown } from '../config/types.js';
import { Daemon } from '../daemon.js';
import { parseArgs, UsageError } from './args.js';
import { createLogger } from './logger.js';
import { daemonPaths } from './paths.js';


export async function start(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, {
    config: { value: true },
    set: { value: true, repeat: true },
    db: { value: true },
    'work-dir': { value: true },
    socket: { value: true },
    'metrics-address': { value: true },
    'socket-group': { value: true },
    'log-level': { value: true },
    pretty: {},
    'no-pretty': {},
  });
  if (options.pretty && options['no-pretty']) throw new UsageError('--pretty and --no-pretty cannot both be given');
  // JSON lines unless stdout is a terminal; --pretty / --no-pretty decide instead.
  const format = options.pretty ? 'pretty' : options['no-pretty'] ? 'json' : undefined;
  const log = createLogger({ level: (options['log-level'] as string | undefined) ?? 'info', format });
  const config = loadConfig({
    file: options.config as string | undefined,
    // --metrics-address is nodewarden.metrics.address, after (so over) any --set of it.
    sets: [
      ...((options.set as string[] | undefined) ?? []),
      ...(options['metrics-address'] !== undefined ? [`nodewarden.metrics.address=${options['metrics-address'] as string}`] : []),
      ...(options['socket-group'] !== undefined ? [`nodewarden.socket.group=${options['socket-group'] as string}`] : []),
    ],
    warn: (msg) => log.warn(msg),
  });
  const paths = daemonPaths(options);
  // Listen for the signals first: one that arrives while the daemon starts stops it once it has started.
  const stopped = new Promise<void>((resolve) => {
    const keep = keepsContainersOnShutdown(config);
    const stop = (signal: string) => {
      log.info({ signal }, `${signal} received: stopping (${keep ? 'containers keep running for the next start' : 'killing the containers first'})`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  const daemon = await Daemon.start({ config, dbPath: paths.db, workDir: paths.workDir, socketPath: paths.socket, log });
  await stopped;
  await daemon.close();
  return 0;
}
