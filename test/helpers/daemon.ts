/**
 * A real NodeWarden in a temp directory with a real database file, and the
 * cleanup that every test needs: each container's whole process group is
 * killed and the daemon closed, even when the test failed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { resolveConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/clock.js';
import { NodewardenClient } from '../../src/client/client.js';
import { Daemon } from '../../src/daemon.js';
import type { ApiServerOptions } from '../../src/server/api-server.js';
import { NodeWarden } from '../../src/node/nodewarden.js';
import type { ContainerState } from '../../state-machines/types.js';
import { cleanupHierarchy, containmentSettings, testHierarchy } from './cgroups.js';
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

export type Settings = Record<string, string | number | boolean>;

/** A temp directory with the daemon's paths, the test config and a quiet logger (NW_TEST_LOG=debug to see it). */
function daemonSetup(settings: Settings) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-daemon-'));
  return {
    dir,
    dbPath: path.join(dir, 'db', 'nodewarden.sqlite'),
    workDir: path.join(dir, 'var'),
    config: resolveConfig([{ 'yarn.nodemanager.sleep-delay-before-sigkill.ms': 200, ...containmentSettings(testHierarchy()), ...settings }]),
    log: pino({ level: process.env.NW_TEST_LOG ?? 'silent' }),
  };
}

export function startDaemon(settings: Settings = {}, opts: { clock?: Clock; log?: Logger } = {}): TestDaemon {
  const { dir, dbPath, workDir, config, log } = daemonSetup(settings);
  return testDaemon(new NodeWarden({ config, dbPath, workDir, log, ...opts }), dir, dbPath, workDir, async () => {});
}

export interface ApiTestDaemon extends TestDaemon {
  daemon: Daemon;
  socket: string;
  client: NodewardenClient;
}

/** The daemon as `nodewarden start` runs it, serving its socket API at `<dir>/run/nodewarden.sock`. */
export async function startApiDaemon(settings: Settings = {}, opts: { log?: Logger; callers?: ApiServerOptions['callers'] } = {}): Promise<ApiTestDaemon> {
  const setup = daemonSetup(settings);
  const { dir, dbPath, workDir, config } = setup;
  const log = opts.log ?? setup.log;
  // A directory of its own, as a shared socket needs (never the work directory).
  const socket = path.join(dir, 'run', 'nodewarden.sock');
  let daemon: Daemon;
  try {
    daemon = await Daemon.start({ config, dbPath, workDir, log, socketPath: socket, callers: opts.callers });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const client = new NodewardenClient(socket, { keepAlive: true });
  const t = testDaemon(daemon.node, dir, dbPath, workDir, async () => {
    client.close();
    await daemon.close();
  });
  return { ...t, daemon, socket, client };
}

function testDaemon(node: NodeWarden, dir: string, dbPath: string, workDir: string, closeFirst: () => Promise<void>): TestDaemon {
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
      await closeFirst();
      await node.close();
      // First what is in cgroups (frozen ones are thawed to die), then any process group.
      await cleanupHierarchy(node.config.cgroups.hierarchy);
      await killGroups(pids);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
