/**
 * `nodewarden journal export`: the journal of a database as NDJSON (SPEC §8),
 * read straight from the file — the daemon may be running or stopped. The
 * header carries the configuration of the last daemon start (the one in
 * force), where the records start (--since) and where the monitor's samples
 * start after pruning.
 */
import { StoreError } from '../store/database.js';
import { Store } from '../store/store.js';
import { JOURNAL_FORMAT, JOURNAL_VERSION, type JournalHeader, type StartRecord } from './records.js';

const PAGE = 2000;

/** Writes the export through `write`, a page at a time (awaiting it when it asks to slow down); returns how many records. */
export async function exportJournal(dbPath: string, since: number, write: (chunk: string) => Promise<void> | void): Promise<number> {
  const store = new Store(dbPath, { readOnly: true });
  try {
    // One snapshot: a commit or prune pass of the running daemon during the export cannot tear it.
    return await store.snapshot(async () => {
      const start = store.lastRecord('start') as StartRecord | null;
      if (start === null) throw new StoreError(`database ${dbPath} has no journal yet: start nodewarden on it first`);
      const header: JournalHeader = { format: JOURNAL_FORMAT, version: JOURNAL_VERSION, config: start.config, since, samplesFrom: store.samplesFrom() };
      await write(`${JSON.stringify(header)}\n`);
      let last = since;
      let count = 0;
      for (;;) {
        const page = store.journalLines(last, PAGE);
        if (page.length === 0) return count;
        last = page.at(-1)!.seq;
        count += page.length;
        await write(`${page.map((r) => r.line).join('\n')}\n`);
      }
    });
  } finally {
    store.close();
  }
}

/** The whole export as lines, header first (tests, benchmarks: journals that fit in memory). */
export async function exportLines(dbPath: string, since = 0): Promise<string[]> {
  const chunks: string[] = [];
  await exportJournal(dbPath, since, (chunk) => void chunks.push(chunk));
  return chunks.join('').trimEnd().split('\n');
}
