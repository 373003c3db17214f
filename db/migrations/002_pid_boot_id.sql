-- nodewarden schema, version 2.
-- The kernel's boot id (/proc/sys/kernel/random/boot_id) when `pid` was
-- recorded. A pid and its start time name a process only within one boot
-- (after a reboot both start again from small numbers), so recovery trusts
-- them only on the same boot. NULL: recorded by schema 1, boot unknown.
ALTER TABLE containers ADD COLUMN pid_boot_id TEXT;
