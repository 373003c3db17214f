/**
 * The `nodewarden` command. Exit codes: 0 ok, 1 error, 2 usage. Errors are one
 * clear line on stderr, never a stack trace.
 */
import { ConfigError } from '../config/load.js';
import { NodewardenError } from '../core/errors.js';
import { StoreError } from '../store/database.js';
import { UsageError } from './args.js';
import { start, START_USAGE } from './start.js';

const USAGE = `usage: nodewarden <command> [options]

commands:
  start     run the daemon in the foreground
            ${START_USAGE}
`;

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  let code: number;
  try {
    switch (command) {
      case 'start':
        code = await start(rest);
        break;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        code = command === undefined ? 2 : 0;
        break;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
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
  if (err instanceof ConfigError || err instanceof StoreError || err instanceof NodewardenError) {
    process.stderr.write(`nodewarden: ${err.message}\n`);
    return 1;
  }
  process.stderr.write(`nodewarden: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
