/**
 * A real NodeWarden in a temp directory with a real database file, and the
 * cleanup that every test needs: each container's whole process group is
 * killed and the daemon closed, even when the test failed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { resolveConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/clock.js';
import { NodeWarden } from '../../src/node/nodewarden.js';
import type { ContainerState } from '../../state-machines/types.js';
import { killGroups, waitFor } from './proc.js';

export interface TestDaemon {
  node: NodeWarden;
  dir: string;
  dbPath: string;
  workDir: string;
  /** Wait until the container reaches the state (fails with its last view). */
  until(id: string, state: ContainerState, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function startDaemon(settings: Record<string, string | number | boolean> = {}, opts: { clock?: Clock } = {}): TestDaemon {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-daemon-'));
  const dbPath = path.join(dir, 'db', 'nodewarden.sqlite');
  const workDir = path.join(dir, 'var');
  const config = resolveConfig([{ 'yarn.nodemanager.sleep-delay-before-sigkill.ms': 200, ...settings }]);
  const node = new NodeWarden({ config, dbPath, workDir, log: pino({ level: process.env.NW_TEST_LOG ?? 'silent' }), ...opts });
  const pids = new Set<number>();
  const track = () => {
    for (const v of node.list()) if (v.pid) pids.add(v.pid);
  };
  node.bus.on('transitions', track);
  return {
    node,
    dir,
    dbPath,
    workDir,
    async until(id, state, timeoutMs = 15_000) {
      try {
        await waitFor(() => node.view(id).state === state, timeoutMs, `${id} to reach ${state}`);
        await node.durable();
      } catch (err) {
        throw new Error(`${(err as Error).message}; last view: ${JSON.stringify(node.view(id))}`);
      }
    },
    async stop() {
      track();
      await node.close();
      await killGroups(pids);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
