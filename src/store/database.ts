/**
 * Opening the SQLite database: WAL, synchronous=FULL set explicitly (a reopened
 * WAL database reports NORMAL), and the migrations of db/migrations applied in
 * order, tracked by PRAGMA user_version. A file that is not a nodewarden
 * database, or is corrupt, is refused with a clear message and never written.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type Db = Database.Database;

export class StoreError extends Error {
  override name = 'StoreError';
}

/** db/migrations, found from this file whether it runs from src/ or dist/src/. */
function migrationsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'db', 'migrations');
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new StoreError('cannot find db/migrations next to the nodewarden package');
    dir = parent;
  }
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir = migrationsDir()): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d+_.*\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number.parseInt(f, 10), name: f, sql: fs.readFileSync(path.join(dir, f), 'utf8') }));
}

/** The database holds every request (environments included): not for other users to read. SQLite gives -wal and -shm the same mode. */
export const DB_DIR_MODE = 0o750;
const DB_FILE_MODE = 0o640;

/** The WAL file is cut back to this after a checkpoint (SQLite's autocheckpoint runs at about 4 MB of WAL). */
export const WAL_SIZE_LIMIT = 4 * 1024 * 1024;

export function openDatabase(file: string, migrations: Migration[] = loadMigrations()): Db {
  const isNew = file !== ':memory:' && !fs.existsSync(file);
  if (isNew) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: DB_DIR_MODE });
    // Created empty with its mode first, so it is never readable by others, not even for a moment; an existing file keeps the mode its owner gave it.
    fs.closeSync(fs.openSync(file, 'a', DB_FILE_MODE));
    fs.chmodSync(file, DB_FILE_MODE);
  }
  let db: Db;
  try {
    db = new Database(file, { fileMustExist: false });
  } catch (err) {
    throw new StoreError(`cannot open database ${file}: ${(err as Error).message}`);
  }
  try {
    // Reading the schema is the first thing that notices a file that is not a database.
    db.pragma('schema_version', { simple: true });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // A checkpoint resets the WAL; this truncates its file back too, so a burst does not leave it large for good.
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
    migrate(db, file, migrations);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    throw new StoreError(
      `database ${file} is unreadable or corrupt (${(err as Error).message}); it was left untouched — move it away to start afresh`,
    );
  }
}

/**
 * Open for reading only, as it is (no migration, nothing written): for
 * `journal export`, which works whether the daemon runs or not. The schema
 * must be at least `minVersion`.
 */
export function openDatabaseReadOnly(file: string, minVersion: number, what: string): Db {
  if (!fs.existsSync(file)) throw new StoreError(`no database at ${file} (give its path with --db, or NODEWARDEN_DB)`);
  let db: Db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new StoreError(`cannot open database ${file}: ${(err as Error).message}`);
  }
  let version: number;
  try {
    version = db.pragma('user_version', { simple: true }) as number;
  } catch (err) {
    db.close();
    throw new StoreError(`database ${file} is unreadable or corrupt (${(err as Error).message})`);
  }
  const latest = loadMigrations().at(-1)?.version ?? 0;
  if (version > latest) {
    db.close();
    throw new StoreError(`database ${file} has schema version ${version}, newer than this nodewarden knows (${latest}); upgrade nodewarden`);
  }
  if (version < minVersion) {
    db.close();
    throw new StoreError(`database ${file} has schema version ${version}, which has no ${what}; start nodewarden on it once to upgrade it`);
  }
  return db;
}

function migrate(db: Db, file: string, migrations: Migration[]): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new StoreError(
      `database ${file} has schema version ${current}, newer than this nodewarden knows (${latest}); upgrade nodewarden`,
    );
  }
  if (current === 0) {
    const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number };
    if (tables.n > 0) throw new StoreError(`${file} holds tables but is not a nodewarden database; refusing to touch it`);
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
