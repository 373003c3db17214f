/**
 * The journal commands (SPEC §7), which need no daemon: `journal export`
 * reads the database file, `replay` reads an exported journal.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { exportJournal } from '../journal/export.js';
import { headerRecords, JournalError, lastStartConfig, mayCarryConfig, Replayer, type ReplaySummary } from '../journal/replay.js';
import type { OutputRecord } from '../journal/records.js';
import { parseArgs, UsageError } from './args.js';
import { eventLine } from './format.js';
import { daemonPaths } from './paths.js';


type Out = (text: string) => void;

/** Writes to stdout, waiting when the pipe is full (a journal can be large). */
function writeOut(chunk: string): Promise<void> | void {
  if (process.stdout.write(chunk)) return;
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}

export async function journal(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'export') throw new UsageError(sub === undefined ? 'journal needs a subcommand: export' : `unknown journal subcommand ${JSON.stringify(sub)} (use export)`);
  const { options, positionals } = parseArgs(rest, { db: { value: true }, since: { value: true } });
  if (positionals.length > 0) throw new UsageError(`journal export takes no arguments (got ${positionals.join(' ')}); redirect its output to a file`);
  const since = (options.since as string | undefined) ?? '0';
  if (!/^\d{1,15}$/.test(since)) throw new UsageError('--since must be a sequence number (an integer ≥ 0)');
  await exportJournal(daemonPaths(options).db, Number(since), writeOut);
  return 0;
}

export async function replay(argv: string[], out: Out): Promise<number> {
  const { options, positionals } = parseArgs(argv, { check: {}, json: {} });
  if (positionals.length !== 1) throw new UsageError('replay needs one journal file: nodewarden replay FILE [--check] [--json]');
  const file = positionals[0]!;
  const check = options.check === true;
  const json = options.json === true;
  const timeline = (r: OutputRecord) => out(json ? `${JSON.stringify(r)}\n` : `${eventLine(r)}\n`);
  // The header's differences from the recorded configuration are edits to replay with. An export since
  // checkpoints carries it in its header, and the journal is read once, streaming; an older one takes a first
  // pass for its last start's.
  let header: string | undefined;
  await readLines(file, (line) => {
    header = line;
    return false;
  });
  let lastStart: Record<string, string | number | boolean> | undefined;
  if (!headerRecords(header)) {
    let newest: string | undefined;
    await readLines(file, (line) => {
      if (mayCarryConfig(line)) newest = line;
      return true;
    });
    lastStart = newest === undefined ? undefined : lastStartConfig([newest]);
  }
  const replayer = new Replayer({ check, source: file, ...(lastStart ? { lastStartConfig: lastStart } : {}), ...(check ? {} : { onOutput: timeline }) });
  await readLines(file, async (line) => {
    replayer.feed(line);
    // The timeline waits for a slow reader rather than pile up in memory.
    if (process.stdout.writableNeedDrain) await new Promise((resolve) => process.stdout.once('drain', resolve));
    return replayer.going;
  });
  const summary = replayer.end();
  for (const note of summary.notes) process.stderr.write(`note: ${note}\n`);
  if (check) report(summary, json, out);
  else if (!json) out(`replayed ${count(summary.records, 'record')} (${count(summary.inputs, 'input')}): ${count(summary.transitions, 'transition')}, ${count(summary.kills, 'kill')}\n`);
  return summary.divergence ? 1 : 0;
}

function report(s: ReplaySummary, json: boolean, out: Out): void {
  const d = s.divergence;
  if (json) {
    out(`${JSON.stringify({ check: d ? 'diverged' : 'ok', records: s.records, inputs: s.inputs, transitions: s.transitions, kills: s.kills, from: s.from, skipped: s.skipped, divergence: d, notes: s.notes })}\n`);
  } else if (d) {
    process.stderr.write(`replay diverged at seq ${d.seq}${d.container ? `, container ${d.container}` : ''}:\n  expected: ${d.expected}\n  got:      ${d.got}\n`);
  } else {
    const at = s.fromKind === 'checkpoint' ? 'the checkpoint' : 'the daemon start';
    const partial = s.skipped > 0 ? ` (from ${at} at seq ${s.from}; ${count(s.skipped, 'earlier record')} not replayed)` : '';
    out(`replay matches the journal: ${count(s.records, 'record')}, ${count(s.transitions, 'transition')} and ${count(s.kills, 'kill')}, all identical${partial}\n`);
  }
}

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/** Each line of the file to `take`, until it returns false. A missing or unreadable file is a JournalError. */
async function readLines(file: string, take: (line: string) => boolean | Promise<boolean>): Promise<void> {
  let stream: fs.ReadStream;
  try {
    const fd = fs.openSync(file, 'r');
    if (fs.fstatSync(fd).isDirectory()) {
      fs.closeSync(fd);
      throw new JournalError(`cannot read ${file}: it is a directory`);
    }
    stream = fs.createReadStream(file, { fd, encoding: 'utf8' });
  } catch (err) {
    if (err instanceof JournalError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new JournalError(`cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) if (!(await take(line))) break;
  } finally {
    lines.close();
    stream.destroy();
  }
}
