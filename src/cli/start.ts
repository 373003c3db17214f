/** `nodewarden start`: run the daemon in the foreground until SIGINT or SIGTERM. */
import pino from 'pino';
import { loadConfig } from '../config/load.js';
import { NodeWarden } from '../node/nodewarden.js';
import { parseArgs } from './args.js';
import { daemonPaths } from './paths.js';

export const START_USAGE = `usage: nodewarden start [--config FILE] [--set KEY=VALUE]... [--db PATH] [--work-dir DIR] [--log-level LEVEL]`;

export async function start(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, {
    config: { value: true },
    set: { value: true, repeat: true },
    db: { value: true },
    'work-dir': { value: true },
    socket: { value: true },
    'log-level': { value: true },
  });
  const log = pino({ name: 'nodewarden', level: (options['log-level'] as string | undefined) ?? 'info' });
  const config = loadConfig({
    file: options.config as string | undefined,
    sets: (options.set as string[] | undefined) ?? [],
    warn: (msg) => log.warn(msg),
  });
  const paths = daemonPaths(options);
  const node = new NodeWarden({ config, dbPath: paths.db, workDir: paths.workDir, log });
  // Nothing else holds the event loop until the socket API listens (SPEC §6).
  const keepAlive = setInterval(() => {}, 1 << 30);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, `${signal} received: stopping (containers keep running)`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  clearInterval(keepAlive);
  await node.close();
  return 0;
}
