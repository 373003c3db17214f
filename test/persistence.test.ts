/** Persist before acting: every effect runs after the transition that asked for it is committed. */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { resolveConfig } from '../src/config/load.js';
import { containerPaths } from '../src/launcher/container-paths.js';
import { NodeWarden } from '../src/node/nodewarden.js';
import type { ContainerEffectType, ContainerState } from '../state-machines/types.js';
import { cleanupHierarchy, containmentSettings, testHierarchy } from './helpers/cgroups.js';
import { startDaemon, type TestDaemon } from './helpers/daemon.js';
import { containerProcesses } from './helpers/proc.js';

let d: TestDaemon | undefined;
afterEach(async () => {
  await d?.stop();
  d = undefined;
});

/** The state a container's committed row must be in when each effect runs. */
const COMMITTED_STATE: Partial<Record<ContainerEffectType, ContainerState[]>> = {
  INIT_CONTAINER_RESOURCES: ['LOCALIZING'],
  LAUNCH_CONTAINER: ['SCHEDULED'],
  START_MONITORING: ['RUNNING'],
  PAUSE_CONTAINER: ['PAUSING'],
  RESUME_CONTAINER: ['RESUMING'],
  CLEANUP_CONTAINER: ['KILLING'],
  CLEANUP_CONTAINER_RESOURCES: ['EXITED_WITH_SUCCESS', 'EXITED_WITH_FAILURE', 'CONTAINER_CLEANEDUP_AFTER_KILL', 'LOCALIZATION_FAILED'],
  STOP_MONITORING: ['DONE'],
};

describe('persist before acting', () => {
  it('each effect sees its transition already committed, read on another connection', async () => {
    d = startDaemon();
    const reader = new Database(d.dbPath, { readonly: true });
    const rowOf = reader.prepare('SELECT state, launch_attempt FROM containers WHERE id = ?');
    const seen: string[] = [];
    const problems: string[] = [];
    d.node.bus.on('effect', ({ id, effect }) => {
      const expected = COMMITTED_STATE[effect.type];
      if (!expected) return;
      const row = rowOf.get(id) as { state: ContainerState; launch_attempt: number } | undefined;
      seen.push(effect.type);
      if (!row || !expected.includes(row.state)) problems.push(`${effect.type} ran while ${id} was committed as ${row?.state}`);
      if (effect.type === 'LAUNCH_CONTAINER' && row?.launch_attempt !== 1) problems.push('launch marker not durable before the spawn');
    });
    const src = path.join(d.dir, 'res');
    fs.writeFileSync(src, 'x');
    await d.node.launch({ id: 'a', command: ['sleep', '1000'], resources: { memoryMb: 64, vcores: 1 }, localResources: [{ source: src, name: 'res' }] });
    await d.until('a', 'RUNNING');
    await d.node.pause('a');
    await d.until('a', 'PAUSED');
    await d.node.resume('a');
    await d.until('a', 'RUNNING');
    await d.node.kill('a');
    await d.until('a', 'DONE');
    reader.close();
    expect(problems).toEqual([]);
    expect(new Set(seen)).toEqual(new Set(Object.keys(COMMITTED_STATE)));
  });

  it('a crash between commit and effect loses nothing, and nothing was spawned', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-crash-'));
    try {
      const dbPath = path.join(dir, 'nodewarden.sqlite');
      const workDir = path.join(dir, 'var');
      const viteNode = path.join(process.cwd(), 'node_modules', '.bin', 'vite-node');
      const child = spawnSync(viteNode, [path.join('test', 'fixtures', 'crash-after-commit.ts'), dbPath, workDir], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(child.signal).toBe('SIGKILL');
      const db = new Database(dbPath, { readonly: true });
      const row = db.prepare(`SELECT state, launch_attempt, pid FROM containers WHERE id = 'crash'`).get();
      const rows = db.prepare(`SELECT from_state, to_state FROM transitions WHERE container_id = 'crash' ORDER BY seq`).all();
      db.close();
      // Committed: the container, its request, the transition and the launch marker.
      expect(row).toEqual({ state: 'SCHEDULED', launch_attempt: 1, pid: null });
      expect(rows).toEqual([{ from_state: 'NEW', to_state: 'SCHEDULED' }]);
      // Not done: the spawn that the commit was to be followed by. A wrongly
      // spawned wrapper is detached and outlives the crash: it is either
      // still alive (its environment holds CONTAINER_ID=crash; a spawn returns
      // only once the child has exec'd) or it has ended, and then its pid file,
      // written first, exists. Checked in that order, no window to wait out.
      const paths = containerPaths(workDir, 'crash');
      expect(containerProcesses(new Set(['crash']))).toEqual([]);
      expect(fs.existsSync(paths.pidFile)).toBe(false);
      expect(fs.existsSync(path.join(paths.dir, 'ran'))).toBe(false);
      // A new daemon on the same database finds the container as it was committed.
      const hierarchy = testHierarchy();
      const node = new NodeWarden({ config: resolveConfig([containmentSettings(hierarchy)]), dbPath, workDir, log: pino({ level: 'silent' }) });
      try {
        expect(node.view('crash')).toMatchObject({ state: 'SCHEDULED', pid: null, command: ['sh', '-c', 'echo ran > ran'] });
      } finally {
        await node.close();
        await cleanupHierarchy(hierarchy);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000); // the child (vite-node compiling the daemon) may take up to its 60 s timeout on a busy machine
});
