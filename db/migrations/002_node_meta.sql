-- nodewarden schema, version 2.
-- Facts about the node that outlive one daemon. `boot_id` is the kernel's
-- /proc/sys/kernel/random/boot_id at the last start: a recorded pid and start
-- time name a process only within one boot (after a reboot both restart from
-- small numbers), so recovery trusts them only when the boot is the same.
CREATE TABLE node_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
