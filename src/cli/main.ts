/**
 * The `nodewarden` command. Exit codes: 0 ok, 1 error, 2 usage. Errors are one
 * clear line on stderr, never a stack trace.
 */
import { UsageError } from './args.js';
import { CLIENT_USAGE, clientCommands } from './client-commands.js';
import { JOURNAL_USAGE, START_USAGE, TOP_USAGE } from './usage.js';

const USAGE = `usage: nodewarden <command> [options]

commands:
  start     run the daemon in the foreground
            ${START_USAGE}
${CLIENT_USAGE}
${TOP_USAGE}
${JOURNAL_USAGE}
`;

/**
 * Errors that are the user's to fix, printed as one line. Known by name: the
 * daemon, top and the journal commands are loaded only when they run (a
 * client command starts in a fifth of the time), so their classes may not be.
 */
const EXPECTED_ERRORS = new Set(['ConfigError', 'ContainmentUnavailable', 'StoreError', 'NodewardenError', 'StartupError', 'ApiError', 'UnreachableError', 'JournalError', 'TerminalError']);

export async function main(argv: string[]): Promise<void> {
  // `nodewarden events --follow | head` closes our stdout: that is the end, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const [command, ...rest] = argv;
  const out = (text: string) => void process.stdout.write(text);
  let code: number;
  try {
    if (command === 'start') code = await (await import('./start.js')).start(rest);
    else if (command === 'journal') code = await (await import('./journal-commands.js')).journal(rest);
    else if (command === 'replay') code = await (await import('./journal-commands.js')).replay(rest, out);
    else if (command === 'top') code = await (await import('./top/top.js')).top(rest);
    else if (command !== undefined && Object.hasOwn(clientCommands, command)) code = await clientCommands[command]!(rest, out);
    else if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(USAGE);
      code = command === undefined ? 2 : 0;
    } else throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  } catch (err) {
    code = report(err);
  }
  process.exitCode = code;
}

function report(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`nodewarden: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (err instanceof Error && EXPECTED_ERRORS.has(err.name)) {
    process.stderr.write(`nodewarden: ${(err as Error).message}\n`);
    return 1;
  }
  process.stderr.write(`nodewarden: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
