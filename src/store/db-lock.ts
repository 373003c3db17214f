/**
 * One daemon per database. SQLite's WAL lets many processes open the same
 * file, so the daemon takes an exclusive lock on a sidecar `<db>.lock` (a tiny
 * SQLite file in EXCLUSIVE locking mode, which keeps its lock until closed).
 * The lock is an fcntl lock: the kernel drops it when the holder dies, so a
 * crashed daemon never leaves a stale lock behind. Readers such as
 * `journal export` open the database itself and are not blocked.
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

export function lockDatabase(dbFile: string): DbLock {
  // The real directory: the same database reached through a symlink must find the same lock.
  const dir = path.dirname(path.resolve(dbFile));
  fs.mkdirSync(dir, { recursive: true, mode: DB_DIR_MODE });
  const file = path.join(fs.realpathSync(dir), `${path.basename(dbFile)}.lock`);
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: 0 });
  } catch (err) {
    throw new StoreError(`cannot create the lock file ${file}: ${(err as Error).message}`);
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the exclusive lock; EXCLUSIVE mode never gives it back.
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') {
      throw new StoreError(`cannot lock ${file}: ${(err as Error).message}`);
    }
    const holders = processesHolding(file);
    const who = holders.length > 0 ? `nodewarden pid ${holders.join(', ')}` : 'another nodewarden';
    throw new StoreError(
      `database ${dbFile} is in use by ${who} (lock ${file}); stop that daemon first, or give this one its own --db`,
    );
  }
  return {
    file,
    release: () => {
      if (db.open) db.close();
    },
  };
}
