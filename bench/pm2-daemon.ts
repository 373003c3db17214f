/**
 * pm2 as the benchmarks drive it: its daemon on a PM2_HOME of its own in a
 * temp dir (never the user's ~/.pm2), reached over its own socket through its
 * programmatic API, and always stopped — by stop(), or at exit if a benchmark
 * failed before reaching it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { atExit, killGroup, killQuietly } from './cleanup.js';

/** The part of a `pm2 jlist` entry the benches read. */
export interface Pm2Process {
  name: string;
  pid: number;
  pm_id: number;
  monit: { memory: number; cpu: number };
  pm2_env: { status: string; restart_time: number };
}

export interface Pm2StartOptions {
  name: string;
  script: string;
  args?: string[];
  /** 'none': run `script` itself, without pm2's Node wrapper. */
  interpreter?: string;
  autorestart?: boolean;
  max_memory_restart?: string | number;
}

type Callback<T> = (err: Error | null, value: T) => void;

/** pm2's API class (`require('pm2').custom`), as far as the benches use it. */
interface Pm2Api {
  connect(cb: Callback<unknown>): void;
  start(opts: Pm2StartOptions, cb: Callback<unknown>): void;
  list(cb: Callback<Pm2Process[]>): void;
  describe(name: string, cb: Callback<Pm2Process[]>): void;
  delete(name: string, cb: Callback<unknown>): void;
  disconnect(cb?: () => void): void;
  /** The RPC client to the daemon. */
  Client: { killDaemon(cb: Callback<unknown>): void };
}

function call<T>(fn: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(value))));
}

export class Pm2Daemon {
  private readonly forget: () => void;

  private constructor(
    readonly home: string,
    private readonly api: Pm2Api,
    forget: () => void,
  ) {
    this.forget = forget;
  }

  /**
   * Start a pm2 daemon. `workerIntervalMs` is its worker's interval
   * (PM2_WORKER_INTERVAL, 30 s by default), the one that checks
   * max_memory_restart.
   */
  static async start(opts: { workerIntervalMs?: number } = {}): Promise<Pm2Daemon> {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-bench-pm2-'));
    const forget = atExit(() => killEverything(home));
    // The daemon is spawned with this process's environment, which wins over
    // the pm2_home option: set both.
    Object.assign(process.env, {
      PM2_HOME: home,
      PM2_PROGRAMMATIC: 'true', // no banner, no version check over the network
      PM2_DISCRETE_MODE: 'true',
      PM2_NO_INTERACTION: 'true',
      PM2_WORKER_INTERVAL: String(opts.workerIntervalMs ?? 30_000),
    });
    const { default: pm2 } = (await import('pm2')) as unknown as { default: { custom: new (o: { pm2_home: string }) => Pm2Api } };
    const api = new pm2.custom({ pm2_home: home });
    const daemon = new Pm2Daemon(home, api, forget);
    try {
      await call((cb) => api.connect(cb));
    } catch (err) {
      killEverything(home);
      forget();
      throw new Error(`bench: pm2 did not start: ${(err as Error).message}`);
    }
    return daemon;
  }

  start(opts: Pm2StartOptions): Promise<unknown> {
    return call((cb) => this.api.start(opts, cb));
  }

  /** `pm2 jlist`: every process with its memory and CPU (pm2 samples them with pidusage on each call). */
  list(): Promise<Pm2Process[]> {
    return call((cb) => this.api.list(cb));
  }

  describe(name: string): Promise<Pm2Process[]> {
    return call((cb) => this.api.describe(name, cb));
  }

  delete(name: string): Promise<unknown> {
    return call((cb) => this.api.delete(name, cb));
  }

  /** Delete every process, kill the daemon (`pm2 kill`), remove PM2_HOME. */
  async stop(): Promise<void> {
    try {
      const left = await this.list();
      if (left.length > 0) await this.delete('all');
      // The client's own kill, not the API's: that one also asks the pm2.io
      // agent (never started here) to stop, and its socket then retries forever.
      await call((cb) => this.api.Client.killDaemon(cb));
    } catch {
      // the checks below make sure anyway
    }
    this.api.disconnect();
    killEverything(this.home);
    this.forget();
  }
}

/**
 * Synchronous last resort: SIGKILL the pm2 daemon and every process it ran
 * (pm2 starts each in a process group of its own and writes its pid file),
 * and remove its PM2_HOME.
 */
function killEverything(home: string): void {
  const pidFile = (f: string) => {
    try {
      return Number(fs.readFileSync(f, 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  };
  const pids = path.join(home, 'pids');
  try {
    for (const f of fs.readdirSync(pids)) killGroup(pidFile(path.join(pids, f)));
  } catch {
    // no pid files
  }
  killQuietly(pidFile(path.join(home, 'pm2.pid')));
  fs.rmSync(home, { recursive: true, force: true });
}
