/**
 * A small argv parser for the CLI: `--name value`, `--name=value`, repeatable
 * options, boolean flags, and `--` ending the options. Unknown options are a
 * usage error (exit 2) that names them.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface OptionSpec {
  /** Takes a value (otherwise a boolean flag). */
  value?: boolean;
  /** May be given more than once; values collect in an array. */
  repeat?: boolean;
}

export interface Parsed {
  options: Record<string, string | boolean | string[]>;
  positionals: string[];
  /** Everything after `--`. */
  rest: string[];
}

export function parseArgs(argv: string[], spec: Record<string, OptionSpec>): Parsed {
  const options: Parsed['options'] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return { options, positionals, rest: argv.slice(i + 1) };
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const opt = spec[name];
    if (!opt) throw new UsageError(`unknown option --${name}`);
    if (!opt.value) {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
      continue;
    }
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`--${name} needs a value`);
      value = next;
    }
    if (opt.repeat) options[name] = [...((options[name] as string[] | undefined) ?? []), value];
    else options[name] = value;
  }
  return { options, positionals, rest: [] };
}

/** An option's value as a positive integer, or the usage error that says so. */
export function positiveInt(value: unknown, flag: string): number {
  if (typeof value !== 'string' || !/^\d+$/.test(value) || Number(value) <= 0) throw new UsageError(`--${flag} needs a positive integer`);
  return Number(value);
}
