-- nodewarden schema, version 1.
-- One row per container: its request and the state its machine is in, column
-- by column, so the machine is restored from what was written, not guessed.
CREATE TABLE containers (
  id                TEXT PRIMARY KEY,
  request           TEXT    NOT NULL,               -- the validated ContainerSpec (JSON)
  state             TEXT    NOT NULL,               -- YARN ContainerState
  pending_resources TEXT    NOT NULL DEFAULT '[]',  -- local resources not yet localized (JSON)
  exit_status       INTEGER NOT NULL DEFAULT -1000, -- YARN ContainerExitStatus (sticky kill status)
  exit_code         INTEGER NOT NULL DEFAULT -1000, -- the process's own exit code
  diagnostics       TEXT    NOT NULL DEFAULT '',
  pid               INTEGER,                        -- wrapper pid: session and group leader
  pid_start_time    INTEGER,                        -- its /proc starttime: tells it from a reused pid
  attempt           INTEGER NOT NULL DEFAULT 0,     -- launches confirmed (CONTAINER_LAUNCHED)
  launch_attempt    INTEGER NOT NULL DEFAULT 0,     -- launch marker: launches decided, durable before the spawn
  remaining_retries INTEGER NOT NULL DEFAULT 0,
  created_at        INTEGER NOT NULL,               -- ms since the epoch
  updated_at        INTEGER NOT NULL
);

-- Every transition, in order, committed before the effects it asked for.
CREATE TABLE transitions (
  seq          INTEGER PRIMARY KEY,
  ts           INTEGER NOT NULL,
  container_id TEXT    NOT NULL,
  from_state   TEXT    NOT NULL,
  to_state     TEXT    NOT NULL,
  event        TEXT    NOT NULL,  -- YARN ContainerEventType
  payload      TEXT    NOT NULL   -- the whole event (JSON): what the machine decided from
);
CREATE INDEX transitions_by_container ON transitions (container_id, seq);
