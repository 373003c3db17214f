/**
 * The usage lines of the commands whose modules are heavy (the daemon, top,
 * the journal): kept apart so that `nodewarden ps` and the other client
 * commands load none of them (src/cli/main.ts imports those lazily).
 */
export const START_USAGE = `usage: nodewarden start [--config FILE] [--set KEY=VALUE]... [--socket PATH] [--db PATH] [--work-dir DIR] [--metrics-address HOST:PORT] [--socket-group GROUP] [--log-level LEVEL] [--pretty | --no-pretty]`;

export const TOP_USAGE = `  top       [--sort memory|cpu|age|id] [--state STATE] [--interval MS]
            live view: memory bars and last-minute sparklines; keys m c a i sort, f filter, ↑↓ select, k kill, q quit`;

export const JOURNAL_USAGE = `  journal export [--db PATH] [--since SEQ] > FILE
            the journal as NDJSON (reads the database; the daemon may be stopped)
  replay FILE [--check] [--json]
            replay a journal's inputs through the machines and print the transitions and kills;
            --check compares them with the recorded ones (exit 1 at the first divergence)`;
