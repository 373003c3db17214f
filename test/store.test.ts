/** The store on real SQLite files: migrations, refusals, group commit and read-back. */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadMigrations, openDatabase, StoreError } from '../src/store/database.js';
import type { ContainerRow } from '../src/store/rows.js';
import { Store } from '../src/store/store.js';
import { containerSpec } from './helpers/spec.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-store-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const row = (id: string, state: ContainerRow['state'] = 'NEW'): ContainerRow => ({
  id,
  spec: containerSpec(id, { env: { A: '1' } }),
  state,
  pendingResources: [],
  pidBootId: null,
  exitStatus: -1000,
  exitCode: -1000,
  diagnostics: '',
  pid: null,
  pidStartTime: null,
  attempt: 0,
  launchAttempt: 0,
  remainingRetries: 0,
  createdAt: 1,
  updatedAt: 1,
});

describe('database', () => {
  it('applies every migration once, in WAL with synchronous=FULL, and reopens without re-applying', () => {
    const file = path.join(dir, 'sub', 'nw.sqlite');
    const db = openDatabase(file);
    const latest = loadMigrations().at(-1)!.version;
    expect(db.pragma('user_version', { simple: true })).toBe(latest);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    db.prepare(`INSERT INTO containers (id, request, state, created_at, updated_at) VALUES ('x', '{}', 'NEW', 1, 1)`).run();
    db.close();
    const again = openDatabase(file);
    expect(again.prepare('SELECT count(*) AS n FROM containers').get()).toEqual({ n: 1 });
    expect(again.pragma('synchronous', { simple: true })).toBe(2);
    again.close();
  });

  it('migrates an older schema forward', () => {
    const file = path.join(dir, 'old.sqlite');
    const [first] = loadMigrations();
    const extra = { version: first!.version + 1, name: 'test', sql: 'CREATE TABLE extra (x INTEGER);' };
    openDatabase(file, [first!]).close();
    const db = openDatabase(file, [first!, extra]);
    expect(db.pragma('user_version', { simple: true })).toBe(extra.version);
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE name = 'extra'`).get()).toEqual({ name: 'extra' });
    db.close();
  });

  it('refuses a database from a newer nodewarden, and one that is not nodewarden’s, touching neither', () => {
    const newer = path.join(dir, 'newer.sqlite');
    const d1 = new Database(newer);
    d1.pragma('user_version = 99');
    d1.close();
    expect(() => openDatabase(newer)).toThrow(StoreError);
    expect(() => openDatabase(newer)).toThrow(/schema version 99, newer than this nodewarden knows/);

    const foreign = path.join(dir, 'foreign.sqlite');
    const d2 = new Database(foreign);
    d2.exec('CREATE TABLE customers (id INTEGER)');
    d2.close();
    expect(() => openDatabase(foreign)).toThrow(/not a nodewarden database/);
    const check = new Database(foreign, { readonly: true });
    expect(check.prepare(`SELECT name FROM sqlite_master`).all()).toEqual([{ name: 'customers' }]);
    check.close();
  });
});

describe('store', () => {
  it('stages rows and commits them together; nothing is visible before commit', () => {
    const file = path.join(dir, 'nw.sqlite');
    const store = new Store(file);
    const reader = () => new Database(file, { readonly: true });
    store.stageContainer(row('a'), true);
    store.stageTransition({ seq: store.nextSeq(), ts: 5, containerId: 'a', from: 'NEW', to: 'SCHEDULED', event: { type: 'INIT_CONTAINER', ts: 5 } });
    store.stageContainer({ ...row('a', 'SCHEDULED'), updatedAt: 5 });
    let r = reader();
    expect(r.prepare('SELECT count(*) AS n FROM containers').get()).toEqual({ n: 0 });
    r.close();
    expect(store.commit()).toHaveLength(1);
    r = reader();
    expect(r.prepare('SELECT id, state, updated_at FROM containers').all()).toEqual([{ id: 'a', state: 'SCHEDULED', updated_at: 5 }]);
    r.close();
    expect(store.loadContainers()[0]!.spec.env).toEqual({ A: '1' });
    expect(store.transitionsOf('a').map((t) => t.event)).toEqual([{ type: 'INIT_CONTAINER', ts: 5 }]);
    store.close();
    // Sequence numbers continue after a reopen.
    const reopened = new Store(file);
    expect(reopened.nextSeq()).toBe(2);
    reopened.close();
  });
});
