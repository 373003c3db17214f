/**
 * One daemon per database, and one per cgroup hierarchy. SQLite's WAL lets
 * many processes open the same file, so the daemon takes an exclusive lock on
 * a sidecar file (a tiny SQLite file in EXCLUSIVE locking mode, which keeps
 * its lock until closed). The lock is an fcntl lock: the kernel drops it when
 * the holder dies, so a crashed daemon never leaves a stale lock behind.
 * Readers such as `journal export` open the database itself and are not
 * blocked.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { processesHolding } from '../procfs/file-holders.js';
import { DB_DIR_MODE, StoreError } from './database.js';

export interface DbLock {
  readonly file: string;
  release(): void;
}

/**
 * Hold `file` (created if missing) for as long as this process lives or until
 * release. Held by another: a StoreError with `inUse(who)`, where `who` names
 * the holders' pids when they can be found.
 */
export function lockFile(file: string, inUse: (who: string) => string): DbLock {
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: 0 });
  } catch (err) {
    throw new StoreError(`cannot create the lock file ${file}: ${(err as Error).message}`);
  }
  try {
    // Nothing is ever written to it: no rollback journal beside it either.
    db.pragma('journal_mode = MEMORY');
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the exclusive lock; EXCLUSIVE mode never gives it back.
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') {
      throw new StoreError(`cannot lock ${file}: ${(err as Error).message}`);
    }
    const holders = processesHolding(file);
    throw new StoreError(inUse(holders.length > 0 ? `nodewarden pid ${holders.join(', ')}` : 'another nodewarden'));
  }
  return {
    file,
    release: () => {
      if (db.open) db.close();
    },
  };
}

export function lockDatabase(dbFile: string): DbLock {
  // The real directory: the same database reached through a symlink must find the same lock.
  const dir = path.dirname(path.resolve(dbFile));
  fs.mkdirSync(dir, { recursive: true, mode: DB_DIR_MODE });
  const file = path.join(fs.realpathSync(dir), `${path.basename(dbFile)}.lock`);
  return lockFile(file, (who) => `database ${dbFile} is in use by ${who} (lock ${file}); stop that daemon first, or give this one its own --db`);
}
