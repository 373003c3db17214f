/**
 * The daemon's logger: pino JSON lines by default (for journald, files and log
 * shippers), human-readable lines through pino-pretty when stdout is a
 * terminal or with --pretty. Both write synchronously from this thread, so
 * the last lines before an exit are never lost in a worker.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { UsageError } from './args.js';
import { colourWanted } from './colour.js';

export type LogFormat = 'json' | 'pretty';

const LOG_LEVELS = [...Object.keys(pino.levels.values), 'silent'];

export interface LoggerOptions {
  level: string;
  /** Chosen on the command line; otherwise pretty on a terminal, JSON elsewhere. */
  format?: LogFormat;
}

/** Where the log goes: a file descriptor, and whether it is a terminal. */
export interface LogOutput {
  fd: number;
  isTTY: boolean;
}

export function createLogger(opts: LoggerOptions, out: LogOutput = { fd: 1, isTTY: process.stdout.isTTY === true }): Logger {
  if (!LOG_LEVELS.includes(opts.level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const format = opts.format ?? (out.isTTY ? 'pretty' : 'json');
  const options = { name: 'nodewarden', level: opts.level };
  if (format === 'json') return pino(options, pino.destination({ fd: out.fd, sync: true }));
  return pino(
    options,
    pretty({ destination: out.fd, sync: true, colorize: colourWanted(out), translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'pid,hostname,name', singleLine: true }),
  );
}
