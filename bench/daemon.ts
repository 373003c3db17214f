/**
 * The daemon as the benchmarks drive it: `nodewarden start` in its own
 * process, the bench a client on its socket. It can be SIGKILLed and started
 * again on the same database and work dir (the recovery bench); stop()
 * removes everything, container process groups included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodewardenClient } from '../src/client/client.js';
import { atExit, benchHierarchy, killContainerGroups, killQuietly, removeBenchHierarchy } from './cleanup.js';

const HIERARCHY_KEY = 'yarn.nodemanager.linux-container-executor.cgroups.hierarchy';

const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'nodewarden.js');

export class BenchDaemon {
  readonly socket: string;
  readonly db: string;
  client!: NodewardenClient;
  /** Its cgroup hierarchy (with cgroups): its own, removed at stop. */
  readonly hierarchy: string;
  private child!: ChildProcess;
  /** Stops everything at exit if stop() is never reached. */
  private readonly forget: () => void;

  private constructor(
    readonly dir: string,
    private readonly sets: Record<string, string | number | boolean>,
  ) {
    this.socket = path.join(dir, 'var', 'nw.sock');
    this.db = path.join(dir, 'db', 'nw.sqlite');
    this.hierarchy = String(sets[HIERARCHY_KEY] ?? benchHierarchy());
    this.forget = atExit(() => {
      killQuietly(this.child?.pid);
      killContainerGroups(this.workDir);
      removeBenchHierarchy(this.hierarchy);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }

  get workDir(): string {
    return path.join(this.dir, 'var');
  }

  /** The daemon's process id (it changes with restart()). */
  get pid(): number {
    return this.child.pid!;
  }

  /** `sets`: configuration keys for the daemon (`--set KEY=VALUE`). */
  static async start(sets: Record<string, string | number | boolean> = {}): Promise<BenchDaemon> {
    const d = new BenchDaemon(fs.mkdtempSync(path.join(os.tmpdir(), 'nw-bench-')), sets);
    await d.spawn();
    return d;
  }

  /** Start the daemon process; resolves once it answers on its socket. */
  private async spawn(): Promise<void> {
    this.child = spawn(
      process.execPath,
      [BIN, 'start', '--socket', this.socket, '--db', this.db, '--work-dir', this.workDir, '--log-level', 'warn',
        // Room for every container: the benches measure the daemon, not the scheduler.
        '--set', 'yarn.nodemanager.resource.memory-mb=1048576', '--set', 'yarn.nodemanager.resource.cpu-vcores=65536',
        '--set', `${HIERARCHY_KEY}=${this.hierarchy}`,
        ...Object.entries(this.sets).flatMap(([k, v]) => ['--set', `${k}=${v}`])],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    this.client = new NodewardenClient(this.socket, { keepAlive: true });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await this.client.get('/healthz');
        return;
      } catch (err) {
        if (Date.now() > deadline || this.child.exitCode !== null) throw new Error(`bench: the daemon did not start: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }

  /** SIGKILL the daemon; its containers keep running. */
  async crash(): Promise<void> {
    this.client.close();
    this.child.kill('SIGKILL');
    await this.exited();
  }

  /** Start a new daemon on the same database and work dir. */
  restart(): Promise<void> {
    return this.spawn();
  }

  async stop(): Promise<void> {
    this.client.close();
    this.child.kill('SIGTERM');
    const stuck = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited();
    clearTimeout(stuck);
    // Supervised shutdown leaves containers running: kill their groups too, and empty their cgroups.
    killContainerGroups(this.workDir);
    removeBenchHierarchy(this.hierarchy);
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.forget();
  }

  private exited(): Promise<unknown> {
    return new Promise((r) => (this.child.exitCode !== null || this.child.signalCode !== null ? r(null) : this.child.once('exit', r)));
  }
}

/** Run `jobs` with at most `limit` in flight. */
export async function pool<T>(jobs: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, jobs.length) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

export async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs = 120_000, pollMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
