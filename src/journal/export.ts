/**
 * `nodewarden journal export`: the journal of a database as NDJSON (SPEC §8),
 * read straight from the file — the daemon may be running or stopped. The
 * header carries the configuration in force (of the last daemon start or
 * checkpoint), twice: `config` to edit for a what-if replay, `recorded` as
 * it was. It says where the records start (--since), and where the journal
 * starts after pruning: at its oldest checkpoint.
 */
import { StoreError } from '../store/database.js';
import { Store } from '../store/store.js';
import { JOURNAL_FORMAT, JOURNAL_VERSION, type JournalHeader } from './records.js';

const PAGE = 2000;

/** Writes the export through `write`, a page at a time (awaiting it when it asks to slow down); returns how many records. */
export async function exportJournal(dbPath: string, since: number, write: (chunk: string) => Promise<void> | void): Promise<number> {
  const store = new Store(dbPath, { readOnly: true });
  try {
    // One snapshot: a commit or prune pass of the running daemon during the export cannot tear it.
    return await store.snapshot(async () => {
      const inForce = store.lastConfigRecord();
      if (inForce === null) throw new StoreError(`database ${dbPath} has no journal yet: start nodewarden on it first`);
      const prunedBefore = store.prunedBefore();
      if (prunedBefore !== null && since > 0 && since < prunedBefore - 1) {
        throw new StoreError(
          `records after seq ${since} up to seq ${prunedBefore - 1} are gone: the journal was pruned to its retention window (nodewarden.journal.retention-hours) ` +
            `and starts at the checkpoint at seq ${prunedBefore}. Export without --since, or with --since ${prunedBefore - 1}`,
        );
      }
      const header: JournalHeader = {
        format: JOURNAL_FORMAT,
        version: JOURNAL_VERSION,
        config: inForce.config,
        since,
        samplesFrom: store.samplesFrom(),
        recorded: inForce.config,
        ...(prunedBefore !== null ? { prunedBefore } : {}),
      };
      await write(`${JSON.stringify(header)}\n`);
      // After a prune the journal starts at its checkpoint (anything older a crashed prune left is not a journal).
      let last = prunedBefore !== null ? Math.max(since, prunedBefore - 1) : since;
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
