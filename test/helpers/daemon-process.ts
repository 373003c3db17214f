/**
 * The real daemon as a child process (`bin/nodewarden.js start`) over one
 * directory that outlives it: started, SIGKILLed, started again on the same
 * database and work dir. cleanup() stops the daemon and kills every process
 * any container of this directory started, whatever state the test left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NodewardenClient } from '../../src/client/client.js';
import { cleanupHierarchy, containmentSettings, HIERARCHY_KEY, testHierarchy } from './cgroups.js';
import { containerProcesses, waitFor, waitForAsync } from './proc.js';

const BIN = path.join(process.cwd(), 'bin', 'nodewarden.js');

export interface ContainerJson {
  id: string;
  state: string;
  pid: number | null;
  exitCode: number;
  exitStatus: number;
  diagnostics: string;
  workDir: string;
  user: string;
  usage: { pmemBytes: number } | null;
}

export interface RunningDaemon {
  child: ChildProcess;
  client: NodewardenClient;
  output(): string;
  /** Resolves with how the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  set?: Record<string, string | number | boolean>;
  env?: Record<string, string>;
  uid?: number;
  gid?: number;
  /** More arguments for `nodewarden start`, after the settings. */
  args?: string[];
  /** Another copy of `bin/nodewarden.js` (a staged install another user can read); it also runs in that copy's root. */
  bin?: string;
}

export class DaemonDir {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-recovery-'));
  /** The directory as /proc shows a working directory in it (TMPDIR may be a symlink). */
  private readonly realDir = fs.realpathSync(this.dir);
  readonly socket = path.join(this.dir, 'nw.sock');
  readonly db = path.join(this.dir, 'db', 'nw.sqlite');
  readonly workDir = path.join(this.dir, 'var');
  /** Every container id launched here: their processes are found by CONTAINER_ID at cleanup. */
  readonly ids = new Set<string>();
  current: RunningDaemon | null = null;
  /** Its daemons' cgroup hierarchy (where cgroups are in force): this directory's alone, removed at cleanup. */
  readonly hierarchy = testHierarchy();
  private readonly hierarchies = new Set<string>();

  /** Start a daemon on this directory and wait until it serves its socket. */
  async start(opts: StartOptions = {}): Promise<RunningDaemon> {
    const settings: Record<string, string | number | boolean> = {
      'yarn.nodemanager.container-monitor.interval-ms': 100,
      'yarn.nodemanager.sleep-delay-before-sigkill.ms': 200,
      ...containmentSettings(this.hierarchy),
      ...opts.set,
    };
    this.hierarchies.add(String(settings[HIERARCHY_KEY]));
    const args = ['start', '--socket', this.socket, '--db', this.db, '--work-dir', this.workDir];
    for (const [k, v] of Object.entries(settings)) args.push('--set', `${k}=${v}`);
    args.push(...(opts.args ?? []));
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], {
      env: { ...process.env, ...opts.env },
      ...(opts.bin !== undefined ? { cwd: path.dirname(path.dirname(opts.bin)) } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}),
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    // 'close', not 'exit': the output is complete only once its pipes are closed.
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('close', (code, signal) => resolve({ code, signal })),
    );
    const d: RunningDaemon = { child, client: new NodewardenClient(this.socket), output: () => out, exited };
    this.current = d;
    let ended = false;
    void exited.then(() => (ended = true));
    await waitFor(() => ended || out.includes('listening on'), 20_000, 'the daemon to listen');
    if (ended) throw new Error(`the daemon exited while starting:\n${out}`);
    return d;
  }

  /** SIGKILL the daemon (containers keep running) and wait until it is gone. */
  async crash(): Promise<void> {
    const d = this.current;
    if (!d) return;
    if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    await d.exited;
    d.client.close();
    this.current = null;
  }

  /** Wait for a daemon that is to crash by itself (a failpoint). */
  async crashed(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const d = this.current!;
    const how = await d.exited;
    d.client.close();
    this.current = null;
    return how;
  }

  /** SIGTERM: a graceful stop. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const d = this.current!;
    d.child.kill('SIGTERM');
    const how = await d.exited;
    d.client.close();
    this.current = null;
    return how;
  }

  async launch(id: string, command: string[], extra: Record<string, unknown> = {}): Promise<ContainerJson> {
    this.ids.add(id);
    return this.current!.client.post<ContainerJson>('/v1/containers', { id, command, resources: { memoryMb: 64, vcores: 1 }, ...extra });
  }

  /**
   * Resolves once everything the daemon decided so far is committed (a view
   * is not durable: it shows the state before its row is written). The
   * transitions route answers only then.
   */
  async durable(id: string): Promise<void> {
    await this.current!.client.get(`/v1/containers/${id}/transitions`);
  }

  view(id: string): Promise<ContainerJson> {
    return this.current!.client.get<ContainerJson>(`/v1/containers/${id}`);
  }

  async until(id: string, state: string, timeoutMs = 15_000): Promise<ContainerJson> {
    let last: ContainerJson | undefined;
    try {
      return await waitForAsync(async () => {
        last = await this.view(id);
        return last.state === state ? last : undefined;
      }, timeoutMs, `${id} to reach ${state}`);
    } catch (err) {
      throw new Error(`${(err as Error).message}; last view: ${JSON.stringify(last)}`);
    }
  }

  /** How many times the container's command started (each test command appends a line to `runs`). */
  runs(id: string): number {
    try {
      return fs.readFileSync(path.join(this.workDir, 'containers', id, 'runs'), 'utf8').split('\n').filter(Boolean).length;
    } catch {
      return 0;
    }
  }

  containerDir(id: string): string {
    return path.join(this.workDir, 'containers', id);
  }

  /** Live (not zombie) processes of this directory's containers (not those of another test's containers with the same ids). */
  containerProcesses(): Array<{ pid: number; pgrp: number; id: string }> {
    return containerProcesses(this.ids, this.realDir);
  }

  /** Stop the daemon and every container process, then remove the directory. */
  async cleanup(): Promise<void> {
    await this.crash();
    // What is in cgroups first (a frozen container is thawed to die), then what is left by process group.
    for (const h of this.hierarchies) await cleanupHierarchy(h);
    for (let i = 0; i < 50; i++) {
      const procs = this.containerProcesses();
      if (procs.length === 0) break;
      for (const p of procs) {
        try {
          process.kill(-p.pgrp, 'SIGKILL');
        } catch {
          try {
            process.kill(p.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const left = this.containerProcesses();
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (left.length > 0) throw new Error(`container processes survived the cleanup: ${JSON.stringify(left)}`);
  }
}
