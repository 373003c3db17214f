-- nodewarden schema, version 3: the journal (SPEC §8).
-- Every record that is not a transition: the inputs the machines took
-- (start, launch, event, monitor, tick, log-tick, monitor-snapshot) and the
-- kills the core decided. Its seq is shared with transitions.seq, so the two
-- tables together are one ordered journal, committed in the same
-- transactions as the container rows they explain.
CREATE TABLE journal (
  seq          INTEGER PRIMARY KEY,
  ts           INTEGER NOT NULL,
  type         TEXT    NOT NULL,
  container_id TEXT,              -- the container a launch, event or kill is about
  record       TEXT    NOT NULL   -- the whole record (JSON), as `journal export` writes it
);
-- Pruning finds the monitor samples by type; the events stream, the kills.
CREATE INDEX journal_by_type ON journal (type, seq);

-- samples_from: monitor samples before this seq were pruned; the
-- monitor-snapshot record at it holds the monitor's state there.
CREATE TABLE journal_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
