-- nodewarden schema, version 4.
-- Who asked, as the kernel said (SO_PEERCRED, JSON {uid, gid, pid}): who
-- launched the container, and who asked for its kill. NULL: the daemon
-- itself, or recorded before callers were known.
ALTER TABLE containers ADD COLUMN launched_by TEXT;
ALTER TABLE containers ADD COLUMN killed_by TEXT;
