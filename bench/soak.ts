/**
 * `npm run soak -- [--minutes N] [--out FILE] [--seed N] [--loops N] [--keep]`
 *
 * The soak of issue 9 (not in CI): a real daemon (`nodewarden start`, a build
 * snapshotted at the start so concurrent rebuilds cannot change it under the
 * run) takes containers from a few concurrent launcher loops for N minutes
 * (default 30): containers that succeed, fail with a code, are killed over
 * the API (-105), go over their memory limit (-104), ignore SIGTERM, fork
 * children, leave children behind, exit at once, name a command that does not
 * exist, and relaunch under a retry policy. Every 45–90 s (seeded) the daemon
 * is SIGKILLed — its containers are not — and started again at once.
 *
 * The recovery invariants (issue 5) are checked as it goes, at every restart
 * and at the end; the first one broken stops the soak with exit 1:
 *   - known: every acknowledged launch (201/200) is known to the daemon
 *     unless it finished more than the retention ago;
 *   - once: no container launched more than 1 + maxRetries times (its
 *     CONTAINER_LAUNCHED transitions and the pids its command wrote to `runs`);
 *   - no orphan: every live container process (cwd under the container's dir,
 *     its CONTAINER_ID, or a wrapper's group) is in the group of a container
 *     the daemon shows RUNNING (confirmed over a few seconds, for the windows
 *     of a kill or an exit in progress);
 *   - outcome and sticky kills: each container ends with the status its kind
 *     implies, and a kill status (-104, -105) once seen never changes;
 *   - done: every container reaches DONE within a deadline;
 * and at the end: bounded (known containers and container dirs within the
 * limits, the finished ones garbage-collected after the retention), RSS flat,
 * open fds flat, `journal export` + `replay --check` agree (daemon stopped),
 * and no leaked process once the daemon is stopped.
 *
 * The result goes to --out (default dist/bench/soak-result.json) and a summary
 * to stdout. SIGINT/SIGTERM stop the daemon and every container process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostFacts } from '../src/procfs/host-facts.js';
import { atExit } from './cleanup.js';
import { prng } from './prng.js';
import {
  fileSize,
  killContainerProcsSync,
  median,
  openFds,
  procStat,
  rssKb,
  scanContainerProcs,
  slope,
  stillAlive,
  ticksAt,
  type ContainerProc,
  type ScanScope,
} from './soak-procs.js';

// ---------------------------------------------------------------- options

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const argv = process.argv.slice(2);
function option(name: string): string | undefined {
  const at = argv.indexOf(name);
  if (at < 0) return undefined;
  const v = argv[at + 1];
  if (v === undefined || v.startsWith('--')) usage(`${name} needs a value`);
  return v;
}
function usage(msg: string): never {
  console.error(`soak: ${msg}\nusage: npm run soak -- [--minutes N] [--out FILE] [--seed N] [--loops N] [--keep]`);
  process.exit(2);
}
for (const a of argv) if (a.startsWith('--') && !['--minutes', '--out', '--seed', '--loops', '--keep', '--log-level'].includes(a)) usage(`unknown option ${a}`);
const MINUTES = Number(option('--minutes') ?? 30);
if (!(MINUTES > 0)) usage('--minutes must be a positive number');
const OUT = path.resolve(option('--out') ?? path.join(ROOT, 'dist', 'bench', 'soak-result.json'));
const SEED = option('--seed') !== undefined ? Number(option('--seed')) >>> 0 : Math.floor(Math.random() * 2 ** 31);
const LOOPS = Number(option('--loops') ?? 4);
const KEEP = argv.includes('--keep');
const LOG_LEVEL = option('--log-level') ?? 'info';

const RETENTION_MS = 20_000;
const MAX_KNOWN = 500;
const MAX_QUEUED = 50;
const SIGKILL_DELAY_MS = 200;
const SETS: Record<string, string | number | boolean> = {
  'yarn.nodemanager.container-monitor.interval-ms': 250,
  'yarn.nodemanager.vmem-check-enabled': false,
  'yarn.nodemanager.sleep-delay-before-sigkill.ms': SIGKILL_DELAY_MS,
  'yarn.nodemanager.resource.memory-mb': 2048,
  'yarn.nodemanager.resource.cpu-vcores': 32,
  'nodewarden.containers.finished-retention-ms': RETENTION_MS,
  'nodewarden.containers.max-known': MAX_KNOWN,
  'nodewarden.containers.max-queued': MAX_QUEUED,
};
/** Restart the daemon every RESTART_MIN..MAX ms. */
const RESTART_MIN_MS = 45_000;
const RESTART_MAX_MS = 90_000;
/** A container that should end, or a kill acknowledged, reaches DONE within this. */
const DONE_DEADLINE_MS = 120_000;
/** A launch refused with 503 this long is given up (and reported). */
const LAUNCH_GIVE_UP_MS = 120_000;
const REQUEST_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------- randomness

const rand = prng(SEED);
const between = (lo: number, hi: number) => lo + rand() * (hi - lo);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- container kinds

const KILL_STATUSES = new Set([-103, -104, -105, -108, -109, -100, -106]);

type Kind = 'success' | 'fail' | 'apikill' | 'ignoreterm' | 'hog' | 'fork' | 'leftover' | 'instant' | 'missing' | 'retry-ok' | 'retry-fail';
const WEIGHTS: Array<[Kind, number]> = [
  ['success', 18],
  ['fail', 14],
  ['apikill', 14],
  ['ignoreterm', 8],
  ['hog', 8],
  ['fork', 9],
  ['leftover', 4],
  ['instant', 12],
  ['missing', 3],
  ['retry-ok', 5],
  ['retry-fail', 5],
];
const TOTAL_WEIGHT = WEIGHTS.reduce((a, [, w]) => a + w, 0);
function pickKind(): Kind {
  let r = rand() * TOTAL_WEIGHT;
  for (const [k, w] of WEIGHTS) if ((r -= w) < 0) return k;
  return 'success';
}

interface Spec {
  body: Record<string, unknown>;
  /** At most this many launches (1 + maxRetries). */
  maxLaunches: number;
  /** The exit status it must end with; 'nonzero' for any failure. */
  expect: number | 'nonzero';
  /** Killed over the API after this delay. */
  killAfterMs: number | null;
}

const sh = (script: string) => ['sh', '-c', script];
function specFor(kind: Kind, id: string): Spec {
  const resources = { memoryMb: 32, vcores: 1 };
  const base = { id, resources };
  const one = (command: string[], expect: Spec['expect'], killAfterMs: number | null = null): Spec => ({ body: { ...base, command }, maxLaunches: 1, expect, killAfterMs });
  switch (kind) {
    case 'success':
      return one(sh(`echo $$ >> runs; sleep 0.${Math.floor(rand() * 10)}; exit 0`), 0);
    case 'fail': {
      const code = pick([1, 2, 3, 7, 42, 100]);
      return one(sh(`echo $$ >> runs; sleep 0.${Math.floor(rand() * 5)}; exit ${code}`), code);
    }
    case 'apikill':
      return one(sh('echo $$ >> runs; exec sleep 600'), -105, Math.round(between(200, 5000)));
    case 'ignoreterm':
      // An ignored TERM is inherited by sleep: only the SIGKILL after the delay ends it.
      return one(sh('trap "" TERM; echo $$ >> runs; sleep 600'), -105, Math.round(between(200, 3000)));
    case 'hog':
      // tail holds the whole newline-free stream: 160 MB against a 64 MB limit.
      return one(sh('echo $$ >> runs; { head -c 160M /dev/zero; sleep 600; } | tail'), -104);
    case 'fork':
      return one(sh('echo $$ >> runs; for i in $(seq 30); do sleep 0.$((i % 4)) & done; wait; exit 0'), 0);
    case 'leftover':
      // The command exits at once and leaves a child in its group: the daemon must end it.
      return one(sh('echo $$ >> runs; sleep 600 & exit 0'), 0);
    case 'instant':
      return one(rand() < 0.5 ? ['true'] : sh('echo $$ >> runs'), 0);
    case 'missing':
      return one(['/nonexistent/nodewarden-soak-no-such-command'], 'nonzero');
    case 'retry-ok':
      // Fails twice, then succeeds: three launches of at most four.
      return {
        body: { ...base, command: sh('echo $$ >> runs; [ "$(wc -l < runs)" -ge 3 ] && exit 0; exit 3'), retryPolicy: { policy: 'RETRY_ON_ALL_ERRORS', maxRetries: 3, retryIntervalMs: 200 } },
        maxLaunches: 4,
        expect: 0,
        killAfterMs: null,
      };
    case 'retry-fail':
      return {
        body: { ...base, command: sh('echo $$ >> runs; exit 5'), retryPolicy: { policy: 'RETRY_ON_SPECIFIC_ERROR_CODES', errorCodes: [5], maxRetries: 2, retryIntervalMs: 100 } },
        maxLaunches: 3,
        expect: 5,
        killAfterMs: null,
      };
  }
}

interface Tracked {
  id: string;
  kind: Kind;
  spec: Spec;
  acked: boolean;
  ackedAt: number;
  abandoned: boolean;
  killAckedAt: number | null;
  /** The first kill status any view showed. */
  killStatusSeen: number | null;
  lastState: string;
  done: boolean;
  /** The DONE view's updatedAt (the daemon's clock, this machine's). */
  finishedAt: number;
  exitStatus: number | null;
  exitCode: number | null;
}

// ---------------------------------------------------------------- state

const t0 = Date.now();
const elapsedS = () => (Date.now() - t0) / 1000;
const log = (msg: string) => console.log(`[soak ${elapsedS().toFixed(0).padStart(5)}s] ${msg}`);

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'nw-soak-')));
const paths = {
  build: path.join(dir, 'build'),
  db: path.join(dir, 'db', 'nw.sqlite'),
  work: path.join(dir, 'var'),
  socket: path.join(dir, 'var', 'nw.sock'),
  log: path.join(dir, 'daemon.log'),
  journal: path.join(dir, 'journal.ndjson'),
};
const containersRoot = path.join(paths.work, 'containers');
const tracked = new Map<string, Tracked>();
/** Wrapper pid → the container it was last reported for, verified (start time) when first seen. */
const wrappers = new Map<number, { id: string; startTime: number; finishedTicks: number | null }>();
const ownStat = procStat(process.pid)!;
const exclude = new Set([process.pid]);
const scope: ScanScope = {
  containersRoot,
  isOurs: (id) => tracked.has(id),
  group: (pgrp) => wrappers.get(pgrp),
  notBefore: ownStat.startTime,
  exclude,
};

const counters = {
  launchesByKind: {} as Record<string, number>,
  status201: 0,
  status200: 0,
  status503: 0,
  status503ByCode: {} as Record<string, number>,
  unreachable: 0,
  timeouts: 0,
  abandoned: 0,
  killsAcked: 0,
  kills409: 0,
  outcomesByStatus: {} as Record<string, number>,
  outcomesByKind: {} as Record<string, Record<string, number>>,
  exitCodesByKind: {} as Record<string, Record<string, number>>,
  launchTransitions: 0,
  runsChecked: 0,
  orphanScans: 0,
  orphanScanProcs: 0,
  orphanScanMax: 0,
};
const checks: Record<string, { run: number; passed: number }> = {};
let failure: { check: string; message: string; atS: number } | null = null;
const endChecks: Array<{ check: string; ok: boolean; message: string; dependsOnGc: boolean }> = [];

class SoakFailure extends Error {}
let onFail: (e: SoakFailure) => void = () => {};
const failed = new Promise<SoakFailure>((r) => (onFail = r));

/** Count a check; the first broken one stops the soak. */
function check(name: string, ok: boolean, message: () => string): void {
  const c = (checks[name] ??= { run: 0, passed: 0 });
  c.run++;
  if (ok) {
    c.passed++;
    return;
  }
  fail(name, message());
}
function fail(name: string, message: string): never {
  const e = new SoakFailure(`${name}: ${message}`);
  if (!failure) {
    failure = { check: name, message, atS: Math.round(elapsedS()) };
    onFail(e);
  }
  throw e;
}
/** Background work: its failure is the soak's. */
function background(what: string, p: Promise<unknown>): Promise<void> {
  return p.then(
    () => undefined,
    (err: unknown) => {
      if (!(err instanceof SoakFailure)) {
        try {
          fail('soak', `${what}: ${(err as Error).stack ?? String(err)}`);
        } catch {
          // recorded
        }
      }
    },
  );
}
const inc = (rec: Record<string, number>, key: string | number) => (rec[String(key)] = (rec[String(key)] ?? 0) + 1);

// ---------------------------------------------------------------- HTTP over the socket

class Unreachable extends Error {}
interface Reply {
  status: number;
  body: any;
}
function call(method: string, urlPath: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath: paths.socket,
        method,
        path: urlPath,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new Unreachable(err.message)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => {
      counters.timeouts++;
      req.destroy(new Error('timeout'));
    });
    req.on('error', (err) => reject(new Unreachable(err.message)));
    req.end(payload);
  });
}

// ---------------------------------------------------------------- the daemon

interface Incarnation {
  index: number;
  pid: number;
  /** Seconds since the soak started, when it answered /healthz. */
  readyAtS: number;
  /** Spawn → /healthz, ms. */
  readyMs: number;
  samples: Array<[number, number]>; // [s since soak start, KB]
  fdsStart: number | null;
  fdsEnd: number | null;
  endedBy: string | null;
  endedAtS: number | null;
}

class Daemon {
  child: ChildProcess | null = null;
  up = false;
  readonly incarnations: Incarnation[] = [];
  private exitedP: Promise<void> = Promise.resolve();
  private logFd = fs.openSync(paths.log, 'a');

  get pid(): number | null {
    return this.child?.pid ?? null;
  }
  get current(): Incarnation | undefined {
    return this.incarnations.at(-1);
  }

  async start(): Promise<void> {
    const bin = path.join(paths.build, 'bin', 'nodewarden.js');
    const args = [bin, 'start', '--socket', paths.socket, '--db', paths.db, '--work-dir', paths.work, '--log-level', LOG_LEVEL, '--no-pretty'];
    for (const [k, v] of Object.entries(SETS)) args.push('--set', `${k}=${v}`);
    fs.writeSync(this.logFd, `\n# ---- soak: start #${this.incarnations.length} at ${elapsedS().toFixed(1)}s\n`);
    const spawnedAt = performance.now();
    const child = spawn(process.execPath, args, { cwd: paths.build, stdio: ['ignore', this.logFd, this.logFd] });
    this.child = child;
    exclude.add(child.pid!);
    let exited = false;
    this.exitedP = new Promise((r) => child.once('exit', () => ((exited = true), r())));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited) fail('daemon-start', `the daemon exited while starting (code ${child.exitCode}, signal ${child.signalCode}); log:\n${logTail()}`);
      try {
        const r = await call('GET', '/healthz');
        if (r.status === 200) {
          if (r.body?.pid !== child.pid) fail('daemon-start', `/healthz answers for pid ${r.body?.pid}, not the daemon just started (${child.pid})`);
          break;
        }
      } catch (err) {
        if (err instanceof SoakFailure) throw err;
      }
      if (Date.now() > deadline) fail('daemon-start', `the daemon did not answer /healthz within 30 s; log:\n${logTail()}`);
      await sleep(20);
    }
    this.up = true;
    this.incarnations.push({
      index: this.incarnations.length,
      pid: child.pid!,
      readyAtS: elapsedS(),
      readyMs: Math.round(performance.now() - spawnedAt),
      samples: [],
      fdsStart: null,
      fdsEnd: null,
      endedBy: null,
      endedAtS: null,
    });
  }

  /** SIGKILL the daemon alone; its containers keep running. */
  async crash(): Promise<void> {
    this.up = false;
    const inc = this.current!;
    inc.fdsEnd = openFds(inc.pid);
    inc.endedBy = 'SIGKILL';
    inc.endedAtS = elapsedS();
    this.child?.kill('SIGKILL');
    await this.exitedP;
  }

  /** SIGTERM (supervised: containers are left running), SIGKILL after 15 s. */
  async stop(): Promise<{ code: number | null; signal: string | null }> {
    this.up = false;
    const inc = this.current;
    if (inc) {
      inc.endedBy = 'SIGTERM';
      inc.endedAtS = elapsedS();
    }
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return { code: child?.exitCode ?? null, signal: child?.signalCode ?? null };
    child.kill('SIGTERM');
    const stuck = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await this.exitedP;
    clearTimeout(stuck);
    return { code: child.exitCode, signal: child.signalCode };
  }

  killSync(): void {
    const pid = this.child?.pid;
    if (pid !== undefined && this.child?.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

function logTail(lines = 30): string {
  try {
    return fs.readFileSync(paths.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------- setup

/** The build the daemon runs, copied so a concurrent `npm run build` cannot change it mid-soak. */
function snapshotBuild(): void {
  fs.mkdirSync(paths.build, { recursive: true });
  for (const part of ['bin', path.join('dist', 'src'), path.join('dist', 'state-machines'), path.join('db', 'migrations'), 'package.json']) {
    fs.cpSync(path.join(ROOT, part), path.join(paths.build, part), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(paths.build, 'node_modules'));
}

const daemon = new Daemon();
const ownGroup = ownStat.pgrp;
const forgetCleanup = atExit(() => {
  // Interrupted or thrown past teardown: nothing outlives the soak.
  daemon.killSync();
  killContainerProcsSync(scope, ownGroup);
  if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- load

let loadStopped = false;
const killers = new Set<Promise<void>>();
let launchSeq = 0;

async function launcher(loop: number): Promise<void> {
  while (!loadStopped) {
    const kind = pickKind();
    const id = `soak-${launchSeq++}-${kind}`;
    const spec = specFor(kind, id);
    const t: Tracked = {
      id,
      kind,
      spec,
      acked: false,
      ackedAt: 0,
      abandoned: false,
      killAckedAt: null,
      killStatusSeen: null,
      lastState: 'NEW',
      done: false,
      finishedAt: 0,
      exitStatus: null,
      exitCode: null,
    };
    tracked.set(id, t);
    inc(counters.launchesByKind, kind);
    const pause = between(250, 900);
    await launch(t);
    if (t.acked && spec.killAfterMs !== null) {
      const k = background(`killer of ${id}`, killLater(t, spec.killAfterMs));
      killers.add(k);
      void k.finally(() => killers.delete(k));
    }
    void loop;
    await sleep(pause);
  }
}

/** POST until acknowledged: the same id and body again after a crash is idempotent (200). */
async function launch(t: Tracked): Promise<void> {
  let refusedSince: number | null = null;
  for (;;) {
    let r: Reply;
    try {
      r = await call('POST', '/v1/containers', t.spec.body);
    } catch (err) {
      if (!(err instanceof Unreachable)) throw err;
      counters.unreachable++;
      // Down (a restart under way): try again; after the load stopped, only while it may come back.
      if (loadStopped && !daemon.up && !restarting) {
        t.abandoned = true;
        counters.abandoned++;
        return;
      }
      await sleep(between(50, 250));
      continue;
    }
    if (r.status === 201 || r.status === 200) {
      r.status === 201 ? counters.status201++ : counters.status200++;
      t.acked = true;
      t.ackedAt = Date.now();
      noteView(t, r.body);
      return;
    }
    if (r.status === 503) {
      counters.status503++;
      inc(counters.status503ByCode, r.body?.error?.code ?? 'unknown');
      refusedSince ??= Date.now();
      if (Date.now() - refusedSince > LAUNCH_GIVE_UP_MS) {
        t.abandoned = true;
        counters.abandoned++;
        log(`gave up launching ${t.id}: refused with 503 for ${LAUNCH_GIVE_UP_MS / 1000} s (${r.body?.error?.code}: ${r.body?.error?.message})`);
        return;
      }
      await sleep(between(200, 1000));
      continue;
    }
    fail('launch', `POST /v1/containers for ${t.id} answered ${r.status}: ${JSON.stringify(r.body)} (a 409 for the same body again would break idempotency)`);
  }
}

async function killLater(t: Tracked, afterMs: number): Promise<void> {
  await sleep(afterMs);
  const giveUp = Date.now() + LAUNCH_GIVE_UP_MS;
  for (;;) {
    if (failure) return;
    if (Date.now() > giveUp) fail('kill', `the kill of ${t.id} could not be delivered in ${LAUNCH_GIVE_UP_MS / 1000} s`);
    let r: Reply;
    try {
      r = await call('POST', `/v1/containers/${t.id}/kill`);
    } catch (err) {
      if (!(err instanceof Unreachable)) throw err;
      counters.unreachable++;
      await sleep(between(100, 300));
      continue;
    }
    if (r.status === 202) {
      counters.killsAcked++;
      t.killAckedAt = Date.now();
      noteView(t, r.body);
      return;
    }
    if (r.status === 409) {
      // Already KILLING or finished: a kill committed before a crash took its answer with it.
      counters.kills409++;
      t.killAckedAt ??= Date.now();
      return;
    }
    if (r.status === 404) check('known', false, () => `${t.id} (acknowledged) answered 404 to a kill`);
    if (r.status === 503) {
      counters.status503++;
      inc(counters.status503ByCode, r.body?.error?.code ?? 'unknown');
      await sleep(500);
      continue;
    }
    fail('kill', `POST kill ${t.id} answered ${r.status}: ${JSON.stringify(r.body)}`);
  }
}

// ---------------------------------------------------------------- tracking and the invariants

/** What a view says: wrapper group, kill status seen (sticky). */
function noteView(t: Tracked, v: any): void {
  if (!v || typeof v !== 'object') return;
  if (typeof v.pid === 'number' && v.pid > 1 && wrappers.get(v.pid)?.id !== t.id) {
    // Only a wrapper seen alive in its own directory is taken as the container's group.
    const st = procStat(v.pid);
    let cwd = '';
    try {
      cwd = fs.readlinkSync(`/proc/${v.pid}/cwd`);
    } catch {
      // gone
    }
    if (st && cwd === path.join(containersRoot, t.id)) wrappers.set(v.pid, { id: t.id, startTime: st.startTime, finishedTicks: null });
  }
  t.lastState = v.state;
  if (typeof v.exitStatus === 'number' && KILL_STATUSES.has(v.exitStatus)) {
    if (t.killStatusSeen === null) t.killStatusSeen = v.exitStatus;
    else check('sticky', v.exitStatus === t.killStatusSeen, () => `${t.id} showed kill status ${t.killStatusSeen}, later ${v.exitStatus} (state ${v.state})`);
  }
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** GET a container's view; null on 404; throws Unreachable when the daemon is down. */
async function view(id: string): Promise<any | null> {
  const r = await call('GET', `/v1/containers/${id}`);
  if (r.status === 404) return null;
  if (r.status !== 200) throw new Error(`GET /v1/containers/${id} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

function runsOf(id: string): number[] | null {
  try {
    return fs
      .readFileSync(path.join(containersRoot, id, 'runs'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return null;
  }
}

function expectedOk(t: Tracked, status: number): boolean {
  return t.spec.expect === 'nonzero' ? status !== 0 && status !== -1000 : status === t.spec.expect;
}

async function finalize(t: Tracked, v: any): Promise<void> {
  t.done = true;
  t.finishedAt = typeof v.updatedAt === 'number' ? v.updatedAt : Date.now();
  t.exitStatus = v.exitStatus;
  t.exitCode = v.exitCode;
  const w = typeof v.pid === 'number' ? wrappers.get(v.pid) : undefined;
  if (w && w.id === t.id) w.finishedTicks = ticksAt(t.finishedAt + 5000, hostFacts().clockTicks);
  inc(counters.outcomesByStatus, v.exitStatus);
  inc((counters.outcomesByKind[t.kind] ??= {}), v.exitStatus);
  inc((counters.exitCodesByKind[t.kind] ??= {}), v.exitCode);
  check('outcome', expectedOk(t, v.exitStatus), () => `${t.id} ended with exit status ${v.exitStatus} (exit code ${v.exitCode}), expected ${t.spec.expect}; diagnostics: ${String(v.diagnostics).slice(0, 400)}`);
  if (t.killStatusSeen !== null) check('sticky', v.exitStatus === t.killStatusSeen, () => `${t.id} was killed with ${t.killStatusSeen} but ended with ${v.exitStatus}`);
  // Nothing launched twice: the daemon's own record, and what the command itself wrote.
  let r: Reply | null = null;
  try {
    r = await call('GET', `/v1/containers/${t.id}/transitions`);
  } catch (err) {
    if (!(err instanceof Unreachable)) throw err;
  }
  if (r && r.status === 200 && Array.isArray(r.body)) {
    const launches = (r.body as Array<{ event: string; to: string }>).filter((x) => x.event === 'CONTAINER_LAUNCHED').length;
    counters.launchTransitions += launches;
    check('once', launches <= t.spec.maxLaunches, () => `${t.id} has ${launches} CONTAINER_LAUNCHED transitions, at most ${t.spec.maxLaunches} allowed: ${JSON.stringify(r!.body)}`);
  }
  checkRuns(t);
}

function checkRuns(t: Tracked): void {
  const runs = runsOf(t.id);
  if (runs === null) return;
  counters.runsChecked++;
  check('once', runs.length <= t.spec.maxLaunches, () => `${t.id}'s command ran ${runs.length} times (pids ${runs.join(', ')}), at most ${t.spec.maxLaunches} allowed`);
}

/** Every second: views of the unfinished, DONE noticed, deadlines. */
async function tracker(): Promise<void> {
  while (!trackerStopped) {
    if (daemon.up) {
      const pending = [...tracked.values()].filter((t) => t.acked && !t.done);
      try {
        await mapLimit(pending, 8, async (t) => {
          const v = await view(t.id);
          if (v === null) {
            if (!daemon.up) return;
            check('known', false, () => `${t.id} (${t.kind}) was acknowledged and never seen DONE, but the daemon answers 404 (last state ${t.lastState})`);
          }
          noteView(t, v);
          if (v.state === 'DONE') return finalize(t, v);
          const from = t.spec.killAfterMs === null ? t.ackedAt : t.killAckedAt;
          if (from !== null) {
            check('done', Date.now() - from < DONE_DEADLINE_MS + downtimeSince(from), () => `${t.id} (${t.kind}) is still ${v.state} ${Math.round((Date.now() - from) / 1000)} s after ${t.spec.killAfterMs === null ? 'its launch' : 'its kill'} was acknowledged`);
          }
        });
      } catch (err) {
        if (!(err instanceof Unreachable)) throw err;
      }
    }
    await sleep(1000);
  }
}
let trackerStopped = false;

/** Every acknowledged container is known, unless finished more than the retention ago. */
async function checkKnown(when: string): Promise<void> {
  const now = Date.now();
  const must = [...tracked.values()].filter((t) => t.acked && (!t.done || now - t.finishedAt < RETENTION_MS - 1000));
  await mapLimit(must, 8, async (t) => {
    const v = await view(t.id);
    check('known', v !== null, () => `${when}: ${t.id} (${t.kind}) was acknowledged${t.done ? `, finished ${Math.round((now - t.finishedAt) / 1000)} s ago (retention ${RETENTION_MS / 1000} s)` : ` and not finished (last ${t.lastState})`}, but the daemon answers 404`);
    if (v) noteView(t, v);
  });
  for (const t of must) if (!t.done) checkRuns(t);
}

/**
 * No orphan: every container process is in the group of a container the
 * daemon shows RUNNING. A process seen otherwise is looked at again for a
 * few seconds (a kill, an exit, or leftovers being ended are under way) and
 * is an orphan if it outlives them.
 */
async function checkOrphans(when: string, rounds = 6): Promise<number> {
  let suspects = scanContainerProcs(scope);
  const scanned = suspects.length;
  counters.orphanScans++;
  counters.orphanScanProcs += scanned;
  counters.orphanScanMax = Math.max(counters.orphanScanMax, scanned);
  for (let round = 0; round <= rounds && suspects.length > 0; round++) {
    if (round > 0) await sleep(1500);
    const ids = [...new Set(suspects.map((p) => p.id).filter((x): x is string => x !== null))];
    const views = new Map<string, any | null>();
    await mapLimit(ids, 8, async (id) => void views.set(id, await view(id)));
    suspects = suspects.filter((p) => {
      if (!stillAlive(p)) return false;
      const v = p.id === null ? undefined : views.get(p.id);
      return !(v && v.state === 'RUNNING' && v.pid === p.pgrp);
    });
  }
  check('orphans', suspects.length === 0, () => {
    const rows = suspects.map((p) => `pid ${p.pid} (pgrp ${p.pgrp}, by ${p.by}) of ${p.id ?? '?'}: ${p.cmd}`);
    return `${when}: processes the daemon does not show RUNNING outlived ${((rounds * 1500) / 1000).toFixed(0)} s:\n  ${rows.join('\n  ')}`;
  });
  return scanned;
}

const downtimes: Array<[number, number]> = [];
function downtimeSince(from: number): number {
  return downtimes.reduce((a, [s, e]) => a + (e > from ? e - Math.max(s, from) : 0), 0);
}

// ---------------------------------------------------------------- restarts, sampling

let restarting = false;
const restartReadyMs: number[] = [];
async function restarter(): Promise<void> {
  for (;;) {
    const waitMs = Math.round(between(RESTART_MIN_MS, RESTART_MAX_MS));
    const at = Date.now() + waitMs;
    while (Date.now() < at && !loadStopped) await sleep(200);
    if (loadStopped) return;
    restarting = true;
    const down = Date.now();
    await daemon.crash();
    await daemon.start();
    downtimes.push([down, Date.now()]);
    restarting = false;
    restartReadyMs.push(daemon.current!.readyMs);
    log(`restart #${daemon.incarnations.length - 1}: SIGKILL after ${(waitMs / 1000).toFixed(0)} s, answering in ${daemon.current!.readyMs} ms`);
    await afterStart(`after restart #${daemon.incarnations.length - 1}`);
  }
}

/** At every start: the invariants, then the fds once it has settled. */
async function afterStart(when: string): Promise<void> {
  const inc = daemon.current!;
  try {
    await checkKnown(when);
    await checkOrphans(when);
  } catch (err) {
    if (!(err instanceof Unreachable)) throw err;
    // The next restart came first; its own checks follow.
  }
  if (inc === daemon.current) inc.fdsStart = openFds(inc.pid);
}

interface NodeSample {
  atS: number;
  known: number;
  dirs: number;
}
const nodeSamples: NodeSample[] = [];
function containerDirs(): number {
  try {
    return fs.readdirSync(containersRoot).length;
  } catch {
    return 0;
  }
}
async function knownCount(): Promise<number | null> {
  try {
    const r = await call('GET', '/v1/node');
    if (r.status !== 200) return null;
    return Object.values(r.body.containers as Record<string, number>).reduce((a, b) => a + b, 0);
  } catch {
    return null;
  }
}

let samplingStopped = false;
async function sampler(): Promise<void> {
  let tick = 0;
  while (!samplingStopped) {
    const inc = daemon.current;
    if (inc && daemon.up) {
      const kb = rssKb(inc.pid);
      if (kb !== null) inc.samples.push([elapsedS(), kb]);
    }
    if (tick++ % 2 === 0) {
      const known = await knownCount();
      if (known !== null) nodeSamples.push({ atS: Math.round(elapsedS()), known, dirs: containerDirs() });
    }
    await sleep(5000);
  }
}

async function orphanWatch(): Promise<void> {
  while (!loadStopped) {
    await sleep(10_000);
    if (loadStopped || !daemon.up || restarting) continue;
    try {
      await checkOrphans('periodic scan');
    } catch (err) {
      if (!(err instanceof Unreachable)) throw err;
    }
  }
}

// ---------------------------------------------------------------- the end

function rssFigures(loadEndS: number) {
  const warmupS = Math.min(120, MINUTES * 60 * 0.1);
  const windowS = Math.min(300, MINUTES * 60 * 0.25);
  /** Each incarnation's first seconds are its own warm-up (the heap grows to its working size). */
  const settledS = 10;
  const settled = daemon.incarnations.flatMap((i) => i.samples.filter(([s]) => s - i.readyAtS >= settledS));
  const first = settled.filter(([s]) => s >= warmupS && s < warmupS + windowS).map(([, kb]) => kb);
  const last = settled.filter(([s]) => s > loadEndS - windowS && s <= loadEndS).map(([, kb]) => kb);
  const firstMedian = median(first);
  const lastMedian = median(last);
  const all = daemon.incarnations.flatMap((i) => i.samples);
  const perIncarnation = daemon.incarnations.map((i) => {
    const pts = i.samples.filter(([s]) => s - i.readyAtS >= settledS).map(([s, kb]) => [(s - i.readyAtS) / 60, kb] as const);
    const kbs = i.samples.map(([, kb]) => kb);
    return {
      index: i.index,
      pid: i.pid,
      readyAtS: Math.round(i.readyAtS),
      lifetimeS: Math.round((i.endedAtS ?? elapsedS()) - i.readyAtS),
      readyMs: i.readyMs,
      samples: kbs.length,
      startKb: kbs[0] ?? null,
      endKb: kbs.at(-1) ?? null,
      maxKb: kbs.length ? Math.max(...kbs) : null,
      slopeKbPerMin: round(slope(pts)),
      fdsStart: i.fdsStart,
      fdsEnd: i.fdsEnd,
      endedBy: i.endedBy,
    };
  });
  const maxes = perIncarnation.filter((i) => i.maxKb !== null && i.lifetimeS >= 30).map((i) => [i.readyAtS / 60, i.maxKb!] as const);
  const growthKb = firstMedian !== null && lastMedian !== null ? lastMedian - firstMedian : null;
  const toleranceKb = firstMedian !== null ? Math.max(0.2 * firstMedian, 10 * 1024) : null;
  return {
    definition: `median VmRSS of [${warmupS.toFixed(0)} s, ${(warmupS + windowS).toFixed(0)} s) vs of the last ${windowS.toFixed(0)} s of load, leaving out each incarnation's first ${settledS} s; flat: growth ≤ max(20 %, 10 MB)`,
    warmupS,
    windowS,
    firstWindowMedianKb: firstMedian,
    lastWindowMedianKb: lastMedian,
    growthKb,
    growthPct: growthKb !== null && firstMedian ? round((growthKb / firstMedian) * 100) : null,
    toleranceKb,
    flat: growthKb !== null && toleranceKb !== null ? growthKb <= toleranceKb : null,
    startKb: all[0]?.[1] ?? null,
    endKb: all.at(-1)?.[1] ?? null,
    maxKb: all.length ? Math.max(...all.map(([, kb]) => kb)) : null,
    /** Growth of each incarnation's max RSS over the soak (least squares over incarnations ≥ 30 s). */
    incarnationMaxSlopeKbPerMin: round(slope(maxes)),
    /** Each incarnation's own growth after its first seconds (least squares): median and max over incarnations. */
    incarnationSlopeKbPerMin: {
      median: round(median(perIncarnation.map((i) => i.slopeKbPerMin).filter((x): x is number => x !== null))),
      max: round(Math.max(...perIncarnation.map((i) => i.slopeKbPerMin ?? -Infinity))),
    },
    samples: all.length,
    incarnations: perIncarnation,
  };
}
const round = (x: number | null) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 10) / 10);

function endCheck(check: string, ok: boolean, message: string, dependsOnGc = false): void {
  const c = (checks[check] ??= { run: 0, passed: 0 });
  c.run++;
  if (ok) c.passed++;
  endChecks.push({ check, ok, message, dependsOnGc });
  if (!ok && !failure) failure = { check, message, atS: Math.round(elapsedS()) };
}

async function waitAllDone(deadlineMs: number): Promise<Tracked[]> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const left = [...tracked.values()].filter((t) => t.acked && !t.done);
    if (left.length === 0 || Date.now() > until || failure) return left;
    await sleep(500);
  }
}

// ---------------------------------------------------------------- main

const result: Record<string, unknown> = {};

async function run(): Promise<void> {
  log(`seed ${SEED}, ${MINUTES} min, ${LOOPS} launcher loops, dir ${dir}`);
  snapshotBuild();
  await daemon.start();
  log(`daemon pid ${daemon.pid}, answering in ${daemon.current!.readyMs} ms`);
  await afterStart('first start');
  const sampling = background('sampler', sampler());
  const track = background('tracker', tracker());
  const loadEndAt = t0 + MINUTES * 60_000;
  const loops = Array.from({ length: LOOPS }, (_, i) => background(`launcher ${i}`, launcher(i)));
  const restarts = background('restarter', restarter());
  const watch = background('orphan watch', orphanWatch());
  let lastReport = Date.now();
  while (Date.now() < loadEndAt && !failure) {
    await Promise.race([sleep(1000), failed]);
    if (Date.now() - lastReport >= 30_000) {
      lastReport = Date.now();
      const acked = [...tracked.values()].filter((t) => t.acked);
      const s = nodeSamples.at(-1);
      const inc = daemon.current;
      log(
        `${acked.length} acked, ${acked.filter((t) => t.done).length} done, ${daemon.incarnations.length - 1} restarts, 503s ${counters.status503}, ` +
          `known ${s?.known ?? '?'}, dirs ${s?.dirs ?? '?'}, RSS ${inc?.samples.at(-1)?.[1] ?? '?'} KB, fds ${inc ? openFds(inc.pid) : '?'}`,
      );
    }
  }
  const loadEndS = elapsedS();
  loadStopped = true;
  if (failure) return;
  log('load stopped: finishing launches, kills and restarts in flight');
  await Promise.race([Promise.all([...loops, restarts, watch]), failed]);
  await Promise.race([Promise.all([...killers]), failed]);
  if (failure) return;

  // Every container reaches DONE.
  const left = await waitAllDone(DONE_DEADLINE_MS);
  if (failure) return;
  check('done', left.length === 0, () => `never reached DONE: ${left.slice(0, 10).map((t) => `${t.id} (${t.lastState})`).join(', ')}`);
  await checkKnown('the end');
  const endScan = await checkOrphans('the end');
  trackerStopped = true;
  await track;
  if (failure) return;

  // Bounded: finished containers are collected after the retention, with their dirs.
  const inc = daemon.current!;
  inc.fdsEnd = openFds(inc.pid);
  const gcUntil = Date.now() + 2 * RETENTION_MS + 10_000;
  let known = await knownCount();
  while ((known !== 0 || containerDirs() !== 0) && Date.now() < gcUntil) {
    await sleep(1000);
    known = await knownCount();
  }
  const dirsAfterGc = containerDirs();
  const leftDirs = describeDirs();
  samplingStopped = true;
  await sampling;
  const maxKnown = Math.max(0, ...nodeSamples.map((s) => s.known));
  const maxDirs = Math.max(0, ...nodeSamples.map((s) => s.dirs));
  endCheck('bounded', maxKnown <= MAX_KNOWN, `known containers peaked at ${maxKnown} (max-known ${MAX_KNOWN})`, true);
  endCheck(
    'bounded',
    known === 0 && dirsAfterGc === 0,
    `every container finished, ${Math.round((2 * RETENTION_MS + 10_000) / 1000)} s later the daemon still knows ${known} and ${dirsAfterGc} container dirs remain (retention ${RETENTION_MS / 1000} s)${dirsAfterGc ? `: ${leftDirs}` : ''}`,
    true,
  );
  const rss = rssFigures(loadEndS);
  endCheck('rss-flat', rss.flat === true, `RSS median ${kbMb(rss.firstWindowMedianKb)} early vs ${kbMb(rss.lastWindowMedianKb)} late (growth ${kbMb(rss.growthKb)}, allowed ${kbMb(rss.toleranceKb)})`, true);
  const fdsStart = daemon.incarnations[0]?.fdsStart ?? null;
  const fdsEnd = inc.fdsEnd;
  const fdsMax = Math.max(...daemon.incarnations.map((i) => Math.max(i.fdsStart ?? 0, i.fdsEnd ?? 0)));
  endCheck('fds-flat', fdsStart !== null && fdsEnd !== null && fdsEnd <= fdsStart + 20, `open fds: ${fdsStart} at the first start, ${fdsEnd} at the end (allowed +20)`);

  // Stop the daemon (supervised: containers would be left running; none is), then the journal.
  const stopped = await daemon.stop();
  endCheck('clean-stop', stopped.code === 0, `SIGTERM: the daemon exited with code ${stopped.code}, signal ${stopped.signal}`);
  const dbBytes = fileSize(paths.db) + fileSize(`${paths.db}-wal`) + fileSize(`${paths.db}-shm`);
  const dirsAtEnd = containerDirs();
  const bin = path.join(paths.build, 'bin', 'nodewarden.js');
  const jfd = fs.openSync(paths.journal, 'w');
  const exp = spawnSync(process.execPath, [bin, 'journal', 'export', '--db', paths.db], { stdio: ['ignore', jfd, 'pipe'], cwd: paths.build, maxBuffer: 1 << 24 });
  fs.closeSync(jfd);
  endCheck('replay', exp.status === 0, `journal export exited ${exp.status}: ${exp.stderr?.toString().trim()}`);
  const replayStart = performance.now();
  const rep = spawnSync(process.execPath, [bin, 'replay', paths.journal, '--check', '--json'], { cwd: paths.build, maxBuffer: 1 << 26 });
  const replayMs = Math.round(performance.now() - replayStart);
  let verdict: unknown = rep.stdout?.toString().trim().slice(0, 2000);
  try {
    verdict = JSON.parse(rep.stdout.toString());
  } catch {
    // keep the text
  }
  endCheck('replay', rep.status === 0, `replay --check exited ${rep.status}: ${rep.stdout?.toString().trim().slice(0, 1000)} ${rep.stderr?.toString().trim().slice(0, 1000)}`);

  // Leak check: with the daemon stopped and every container DONE, nothing of theirs may remain.
  const before = scanContainerProcs(scope);
  endCheck('no-leak', before.length === 0, `processes left after the daemon stopped: ${before.map((p) => `${p.pid} of ${p.id ?? `group ${p.pgrp}`} (${p.cmd})`).join('; ')}`);
  killContainerProcsSync(scope, ownGroup);
  const after = scanContainerProcs(scope);
  endCheck('no-leak', after.length === 0, `processes survived SIGKILL: ${after.map((p) => p.pid).join(', ')}`);

  Object.assign(result, {
    rss,
    fds: { start: fdsStart, end: fdsEnd, max: fdsMax },
    known: { max: maxKnown, limit: MAX_KNOWN, afterRetention: known },
    containerDirs: { max: maxDirs, afterRetention: dirsAfterGc, atStop: dirsAtEnd },
    db: { bytes: dbBytes, file: fileSize(paths.db), wal: fileSize(`${paths.db}-wal`) },
    journal: { bytes: fileSize(paths.journal), lines: countLines(paths.journal), replayMs, verdict },
    leak: { afterStop: before, afterKill: after },
    endScanProcesses: endScan,
    loadMinutes: round(loadEndS / 60),
  });
}

/** The container dirs left, by kind and by which of the wrapper's files they hold. */
function describeDirs(): string {
  const by: Record<string, number> = {};
  let names: string[] = [];
  try {
    names = fs.readdirSync(containersRoot);
  } catch {
    // none
  }
  for (const id of names) {
    const files = fs.existsSync(path.join(containersRoot, id, `${id}.pid.exitcode`)) ? 'pid+exitcode' : fs.existsSync(path.join(containersRoot, id, `${id}.pid`)) ? 'pid, no exitcode' : 'no pid';
    inc(by, `${tracked.get(id)?.kind ?? '?'} (${files})`);
  }
  return Object.entries(by)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
}

function countLines(file: string): number {
  let n = 0;
  const buf = Buffer.alloc(1 << 20);
  const fd = fs.openSync(file, 'r');
  try {
    for (let r; (r = fs.readSync(fd, buf)) > 0; ) for (let i = 0; i < r; i++) if (buf[i] === 10) n++;
  } finally {
    fs.closeSync(fd);
  }
  return n;
}

const kbMb = (kb: number | null | undefined) => (kb === null || kb === undefined ? '?' : `${(kb / 1024).toFixed(1)} MB`);

async function main(): Promise<number> {
  try {
    await Promise.race([run(), failed]);
  } catch (err) {
    if (!(err instanceof SoakFailure)) {
      if (!failure) failure = { check: 'soak', message: (err as Error).stack ?? String(err), atS: Math.round(elapsedS()) };
    } else if (!failure) failure = { check: 'soak', message: err.message, atS: Math.round(elapsedS()) };
  }
  loadStopped = true;
  trackerStopped = true;
  samplingStopped = true;
  if (failure) {
    // Stopped early: the daemon and every container go; the figures so far are kept.
    daemon.killSync();
    killContainerProcsSync(scope, ownGroup);
    if (!result.rss) result.rss = rssFigures(elapsedS());
  }
  const all = [...tracked.values()];
  Object.assign(result, {
    ok: failure === null,
    failure,
    seed: SEED,
    minutes: MINUTES,
    elapsedMinutes: round(elapsedS() / 60),
    startedAt: new Date(t0).toISOString(),
    machine: { cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, kernel: os.release() },
    config: SETS,
    loops: LOOPS,
    launches: {
      total: all.length,
      acknowledged: all.filter((t) => t.acked).length,
      abandoned: counters.abandoned,
      byKind: counters.launchesByKind,
      answered201: counters.status201,
      answered200: counters.status200,
    },
    outcomes: { byExitStatus: counters.outcomesByStatus, byKind: counters.outcomesByKind, exitCodesByKind: counters.exitCodesByKind, done: all.filter((t) => t.done).length },
    restarts: { count: Math.max(0, daemon.incarnations.length - 1), readyMs: summary(restartReadyMs), downtimeMs: downtimes.reduce((a, [s, e]) => a + e - s, 0) },
    http: { status503: counters.status503, status503ByCode: counters.status503ByCode, unreachable: counters.unreachable, timeouts: counters.timeouts, killsAcked: counters.killsAcked, kills409: counters.kills409 },
    launchTransitions: counters.launchTransitions,
    runsFilesChecked: counters.runsChecked,
    orphanScans: { scans: counters.orphanScans, containerProcessesSeen: counters.orphanScanProcs, maxInOneScan: counters.orphanScanMax },
    checks,
    endChecks,
    nodeSamples,
  });
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
  printSummary();
  if (failure) console.error(`\nsoak FAILED (${failure.check}) at ${failure.atS} s: ${failure.message}\n\ndaemon log, last lines:\n${logTail(20)}`);
  if (KEEP) console.log(`kept: ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
  forgetCleanup();
  return failure ? 1 : 0;
}

function summary(xs: number[]) {
  if (xs.length === 0) return null;
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

function printSummary(): void {
  const r = result as any;
  const line = (k: string, v: string) => console.log(`  ${k.padEnd(24)} ${v}`);
  console.log(`\nsoak: ${r.ok ? 'PASSED' : 'FAILED'} — seed ${r.seed}, ${r.elapsedMinutes} min (${r.minutes} planned, load ${r.loadMinutes ?? '?'} min)`);
  line('launches', `${r.launches.total} (${r.launches.acknowledged} acknowledged: ${r.launches.answered201}×201, ${r.launches.answered200}×200; ${r.launches.abandoned} abandoned)`);
  line('  by kind', Object.entries(r.launches.byKind).map(([k, n]) => `${k} ${n}`).join(', '));
  line('outcomes (exit status)', `${Object.entries(r.outcomes.byExitStatus).sort((a, b) => Number(a[0]) - Number(b[0])).map(([k, n]) => `${k}: ${n}`).join(', ')} (${r.outcomes.done} DONE)`);
  line('daemon restarts', `${r.restarts.count} SIGKILLs; answering in ${r.restarts.readyMs ? `${r.restarts.readyMs.median} ms median (max ${r.restarts.readyMs.max})` : '-'}`);
  line('503s', `${r.http.status503} ${JSON.stringify(r.http.status503ByCode)}; unreachable while down ${r.http.unreachable}; timeouts ${r.http.timeouts}`);
  if (r.rss) {
    const s = r.rss;
    line('RSS', `start ${kbMb(s.startKb)}, end ${kbMb(s.endKb)}, max ${kbMb(s.maxKb)}`);
    line('RSS flat?', `${kbMb(s.firstWindowMedianKb)} → ${kbMb(s.lastWindowMedianKb)} (growth ${kbMb(s.growthKb)}, ${s.growthPct ?? '?'} %): ${s.flat === null ? 'not enough samples' : s.flat ? 'flat' : 'NOT flat'}`);
    line('RSS slopes', `incarnation max over the soak ${s.incarnationMaxSlopeKbPerMin ?? '?'} KB/min; within an incarnation median ${s.incarnationSlopeKbPerMin.median ?? '?'}, max ${s.incarnationSlopeKbPerMin.max ?? '?'} KB/min`);
  }
  if (r.fds) line('daemon open fds', `start ${r.fds.start}, end ${r.fds.end}, max ${r.fds.max}`);
  if (r.known) line('known containers', `max ${r.known.max} (limit ${r.known.limit}), ${r.known.afterRetention} after the retention`);
  if (r.containerDirs) line('container dirs', `max ${r.containerDirs.max}, ${r.containerDirs.afterRetention} after the retention, ${r.containerDirs.atStop} at the stop`);
  if (r.db) line('database', `${(r.db.bytes / 2 ** 20).toFixed(1)} MB (file ${(r.db.file / 2 ** 20).toFixed(1)} MB, wal ${(r.db.wal / 2 ** 20).toFixed(1)} MB)`);
  if (r.journal) line('journal', `${(r.journal.bytes / 2 ** 20).toFixed(1)} MB, ${r.journal.lines} lines; replay --check in ${r.journal.replayMs} ms`);
  line('orphan scans', `${r.orphanScans.scans} scans saw ${r.orphanScans.containerProcessesSeen} container processes (at most ${r.orphanScans.maxInOneScan} at once)`);
  line('launches checked', `${r.launchTransitions} CONTAINER_LAUNCHED transitions, ${r.runsFilesChecked} runs files`);
  line('checks (run/passed)', Object.entries(r.checks as Record<string, { run: number; passed: number }>).map(([k, c]) => `${k} ${c.passed}/${c.run}`).join(', '));
  for (const c of r.endChecks as typeof endChecks) if (!c.ok) line(`  FAILED ${c.check}`, `${c.message}${c.dependsOnGc ? ' [depends on the garbage collection]' : ''}`);
  console.log(`  result: ${OUT}`);
}

// Exit now: work left in flight after a failure (a request to a dead daemon) must not hold the process.
process.exit(await main());
