/**
 * The socket API (SPEC §6) driven over the real Unix socket with curl and the
 * client: the whole lifecycle, each route's shape, Mesos and YARN shapes field
 * by field, the events stream, /metrics, and the socket file's rules.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Store } from '../src/store/store.js';
import { Daemon } from '../src/daemon.js';
import { resolveConfig } from '../src/config/load.js';
import { StartupError } from '../src/core/errors.js';
import { StoreError } from '../src/store/database.js';
import type { ContainerView } from '../src/node/container-view.js';
import { cleanupHierarchy, containmentSettings, expectedMode, testHierarchy } from './helpers/cgroups.js';
import { startApiDaemon, type ApiTestDaemon } from './helpers/daemon.js';
import { curl } from './helpers/curl.js';
import { isLive, isPaused, procStat, waitFor, waitForAsync } from './helpers/proc.js';
import { pino } from 'pino';

const HOG = path.resolve(import.meta.dirname, 'fixtures/hog.mjs');
const FAST_MONITOR = { 'yarn.nodemanager.container-monitor.interval-ms': 100 };
const sleeper = (id: string, seconds = 60) => ({ id, command: ['sleep', String(seconds)], resources: { memoryMb: 64, vcores: 1 } });

let d: ApiTestDaemon | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await d?.stop();
  d = undefined;
});

const post = (path: string, body?: unknown) => curl(d!.socket, ['-X', 'POST', ...(body === undefined ? [] : ['-H', 'content-type: application/json', '-d', JSON.stringify(body)]), `http://localhost${path}`]);
const get = (path: string) => curl(d!.socket, [`http://localhost${path}`]);

describe('socket API: the lifecycle over curl', () => {
  it('launch (201), the same request again (200), a different one (409), view, transitions, kill (202) to DONE', async () => {
    d = await startApiDaemon();
    const created = await post('/v1/containers', sleeper('c1'));
    expect(created.status).toBe(201);
    expect(created.headers['content-type']).toMatch(/^application\/json/);
    expect(created.json).toMatchObject({ id: 'c1', resources: { memoryMb: 64, vcores: 1 }, executionType: 'GUARANTEED' });

    const again = await post('/v1/containers', { resources: { vcores: 1, memoryMb: 64 }, command: ['sleep', '60'], id: 'c1' });
    expect(again.status).toBe(200);
    expect(again.json.id).toBe('c1');
    const different = await post('/v1/containers', { ...sleeper('c1'), command: ['sleep', '61'] });
    expect(different.status).toBe(409);
    expect(different.json.error.code).toBe('CONFLICT');

    await d.until('c1', 'RUNNING');
    const view = await get('/v1/containers/c1');
    expect(view.status).toBe(200);
    const v = view.json as ContainerView;
    expect(Object.keys(v).sort()).toEqual(
      // SPEC §6's view, plus the rest of the request (env, localResources, retryPolicy) for `nodewarden show`, and who asked.
      ['command', 'createdAt', 'diagnostics', 'env', 'executionType', 'exitCode', 'exitStatus', 'id', 'killedBy', 'launchedBy', 'limits', 'localResources', 'logDir', 'pid', 'resources', 'retryPolicy', 'state', 'updatedAt', 'usage', 'user', 'workDir'].sort(),
    );
    expect(v).toMatchObject({ state: 'RUNNING', exitStatus: -1000, exitCode: -1000, limits: { pmemBytes: 96 * 2 ** 20, cpus: 1.1 } });
    expect(isLive(v.pid!)).toBe(true);

    const list = await get('/v1/containers');
    expect(list.json.containers.map((c: ContainerView) => c.id)).toEqual(['c1']);

    const killed = await post('/v1/containers/c1/kill');
    expect(killed.status).toBe(202);
    expect(killed.json).toMatchObject({ id: 'c1', state: 'KILLING', exitStatus: -105 });
    await d.until('c1', 'DONE');
    await waitFor(() => !isLive(v.pid!), 15_000, 'the killed process to be gone');

    const transitions = await get('/v1/containers/c1/transitions');
    expect(transitions.json.map((t: { from: string; to: string; event: string }) => `${t.from}>${t.to}:${t.event}`)).toEqual([
      'NEW>SCHEDULED:INIT_CONTAINER',
      'SCHEDULED>RUNNING:CONTAINER_LAUNCHED',
      'RUNNING>KILLING:KILL_CONTAINER',
      'KILLING>CONTAINER_CLEANEDUP_AFTER_KILL:CONTAINER_KILLED_ON_REQUEST',
      'CONTAINER_CLEANEDUP_AFTER_KILL>DONE:CONTAINER_RESOURCES_CLEANEDUP',
    ]);
    for (const t of transitions.json) expect(Object.keys(t).sort()).toEqual(['event', 'from', 'seq', 'to', 'ts']);
    expect((await get('/healthz')).json).toEqual({ status: 'ok', pid: process.pid });
  });

  it('the reply waits for the commit: a commit that fails answers 503, not 201', async () => {
    d = await startApiDaemon();
    const commit = vi.spyOn(Store.prototype, 'commit').mockImplementationOnce(() => {
      throw new Error('disk I/O error');
    });
    try {
      const r = await post('/v1/containers', sleeper('w1'));
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('STORE_UNAVAILABLE');
      expect(r.json.error.message).toContain('disk I/O error');
    } finally {
      commit.mockRestore();
    }
    // The batch is retried; once durable, the same request is the same container (200).
    await d.until('w1', 'RUNNING');
    expect((await post('/v1/containers', sleeper('w1'))).status).toBe(200);
  });

  it('a launch without an id gets one; a reply means the container is already in the database', async () => {
    d = await startApiDaemon();
    const r = await post('/v1/containers', { command: ['true'], resources: { memoryMb: 16, vcores: 1 } });
    expect(r.status).toBe(201);
    expect(r.json.id).toMatch(/^container_\d+_\d{6}$/);
    // A second connection to the file sees it: the row was committed before the reply.
    const db = new Database(d.dbPath, { readonly: true });
    try {
      expect(db.prepare('SELECT id FROM containers').all()).toEqual([{ id: r.json.id }]);
    } finally {
      db.close();
    }
  });

  it('pause stops the process tree and resume continues it', async () => {
    d = await startApiDaemon();
    await post('/v1/containers', sleeper('p'));
    await d.until('p', 'RUNNING');
    const pid = d.node.view('p').pid!;
    expect((await post('/v1/containers/p/pause')).status).toBe(202);
    await d.until('p', 'PAUSED');
    await waitFor(() => isPaused(pid), 15_000, 'the process to be stopped');
    expect((await post('/v1/containers/p/resume')).status).toBe(202);
    await d.until('p', 'RUNNING');
    await waitFor(() => procStat(pid)?.state === 'S', 15_000, 'the process to run again');
  });
});

describe('socket API: shapes', () => {
  it('GET /v1/node: capacity, allocation, utilization, containers by state, the config in force', async () => {
    d = await startApiDaemon({ 'yarn.nodemanager.resource.memory-mb': 4096, ...FAST_MONITOR });
    await post('/v1/containers', sleeper('n1'));
    await d.until('n1', 'RUNNING');
    const { json } = await get('/v1/node');
    expect(Object.keys(json).sort()).toEqual(['allocated', 'capacity', 'config', 'containers', 'containment', 'elastic', 'limits', 'monitor', 'pressure', 'queued', 'recovery', 'store', 'utilization']);
    // auto, the default: cgroups where the test runs as root with them, process groups elsewhere.
    expect(json.containment).toEqual(d.node.containment);
    expect(json.containment.mode).toBe(expectedMode());
    expect(json.recovery).toMatchObject({ containers: 0, reacquired: 0, ended: 0, launched: 0, rebooted: false, killed: 0 });
    expect(json.capacity).toEqual({ memoryMb: 4096, vcores: 8 });
    expect(json.allocated).toEqual({ memoryMb: 64 + 32, vcores: 1.1 });
    expect(json.queued).toEqual({ guaranteed: 0, opportunistic: 0 });
    expect(json.containers).toEqual({ RUNNING: 1 });
    expect(json.monitor).toMatchObject({ running: true, intervalMs: 100 });
    expect(json.config['yarn.nodemanager.resource.memory-mb']).toBe(4096);
    expect(json.config['yarn.nodemanager.vmem-pmem-ratio']).toBe(2.1);
    await waitFor(() => d!.node.utilization().pmemMb > 0 || d!.node.monitor.tickCount() > 3, 10_000, 'a tick');
    expect(Object.keys((await get('/v1/node')).json.utilization).sort()).toEqual(['pmemMb', 'timestamp', 'vcores', 'vmemMb']);
  });

  it('Mesos /monitor/statistics and .json: every field, from the real process tree', async () => {
    // vmem check off: Node reserves ~700 MB of address space, over 2.1 × the 288 MB limit, and the
    // monitor would kill the hog (-103) a few ticks in, before or between the requests below.
    d = await startApiDaemon({ ...FAST_MONITOR, 'yarn.nodemanager.vmem-check-enabled': false });
    const ready = path.join(d.dir, 'ready');
    await post('/v1/containers', { id: 'm1', command: [process.execPath, HOG, '20', ready], resources: { memoryMb: 256, vcores: 2 } });
    await waitFor(() => fs.existsSync(ready), 15_000, 'the hog to hold its memory');
    const stats = await waitForAsync(async () => {
      const r = await get('/monitor/statistics');
      return r.json.length === 1 && r.json[0].statistics.mem_rss_bytes > 20 * 2 ** 20 ? r : null;
    }, 15_000, 'statistics with the held memory');
    const [entry] = stats.json;
    expect(Object.keys(entry).sort()).toEqual(['executor_id', 'executor_name', 'framework_id', 'source', 'statistics']);
    expect(entry).toMatchObject({ executor_id: 'm1', source: 'm1', framework_id: 'default' });
    expect(entry.executor_name).toContain(HOG);
    const s = entry.statistics;
    // A cgroup says more of its memory than /proc does (Mesos's cgroups isolator fields).
    const fromCgroup = d.node.containment.mode === 'process-group' ? [] : ['mem_cache_bytes', 'mem_mapped_file_bytes', 'mem_swap_bytes'];
    expect(Object.keys(s).sort()).toEqual(
      ['cpus_limit', 'cpus_system_time_secs', 'cpus_user_time_secs', 'mem_limit_bytes', 'mem_rss_bytes', 'mem_total_bytes', 'processes', 'threads', 'timestamp', ...fromCgroup].sort(),
    );
    expect(s.cpus_limit).toBeCloseTo(2.1, 6);
    expect(s.mem_limit_bytes).toBe((256 + 32) * 2 ** 20);
    expect(s.processes).toBeGreaterThanOrEqual(2); // the wrapper and node
    expect(s.threads).toBeGreaterThanOrEqual(s.processes);
    expect(s.mem_total_bytes).toBeGreaterThanOrEqual(s.mem_rss_bytes);
    expect(s.cpus_user_time_secs).toBeGreaterThanOrEqual(0);
    expect(s.cpus_system_time_secs).toBeGreaterThanOrEqual(0);
    expect(Math.abs(s.timestamp - Date.now() / 1000)).toBeLessThan(60);
    const json = await get('/monitor/statistics.json');
    expect(json.json.map((e: { executor_id: string }) => e.executor_id)).toEqual(['m1']);
  });

  it('YARN /ws/v1/node/containers: the NM REST shape, one container, 404 text, log files', async () => {
    d = await startApiDaemon();
    expect((await get('/ws/v1/node/containers')).json).toEqual({ containers: {} });
    await post('/v1/containers', { id: 'y1', command: ['sh', '-c', 'echo hello; echo oops >&2; sleep 60'], resources: { memoryMb: 128, vcores: 2 } });
    await d.until('y1', 'RUNNING');
    // Both files written: stderr's line comes after stdout's, and its size is checked below.
    const logText = (name: string) => {
      const file = path.join(d!.node.view('y1').logDir, name);
      return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    };
    await waitFor(() => logText('stdout') === 'hello\n' && logText('stderr') === 'oops\n', 15_000, 'stdout and stderr');

    const list = await get('/ws/v1/node/containers');
    expect(list.json.containers.container).toHaveLength(1);
    const info = list.json.containers.container[0];
    expect(Object.keys(info).sort()).toEqual(
      ['containerLogFiles', 'containerLogsLink', 'diagnostics', 'executionType', 'exitCode', 'id', 'nodeId', 'state', 'totalMemoryNeededMB', 'totalVCoresNeeded', 'user'].sort(),
    );
    expect(info).toMatchObject({
      id: 'y1',
      state: 'RUNNING',
      exitCode: -1000,
      diagnostics: '',
      user: os.userInfo().username,
      totalMemoryNeededMB: 128,
      totalVCoresNeeded: 2,
      executionType: 'GUARANTEED',
      nodeId: `${os.hostname()}:0`,
      containerLogFiles: ['stderr', 'stdout'],
    });
    expect((await get('/ws/v1/node/containers/y1')).json).toEqual({ container: info });

    const missing = await get('/ws/v1/node/containers/nope');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: { code: 'NOT_FOUND', message: 'container with id, nope, not found' } });

    const logs = await get(new URL(info.containerLogsLink).pathname);
    expect(logs.json[0]).toMatchObject({ containerId: 'y1', logAggregationType: 'LOCAL' });
    expect(logs.json[0].containerLogInfo.map((f: { fileName: string; fileSize: number }) => [f.fileName, f.fileSize])).toEqual([['stderr', 5], ['stdout', 6]]);
    const stdout = await get('/ws/v1/node/containerlogs/y1/stdout');
    expect(stdout.status).toBe(200);
    expect(stdout.headers['content-type']).toMatch(/^text\/plain/);
    expect(stdout.body).toBe('hello\n');
    const escape = await curl(d.socket, ['--path-as-is', 'http://localhost/ws/v1/node/containerlogs/y1/..%2F..%2Fy1.pid']);
    expect(escape.status).toBe(404);

    await post('/v1/containers/y1/kill');
    await d.until('y1', 'DONE');
    expect((await get('/ws/v1/node/containers/y1')).json.container).toMatchObject({ state: 'DONE', exitCode: -105 });
  });

  it('/metrics is Prometheus text: containers by state, per-container usage, kills by exit status, tick duration, transitions', async () => {
    d = await startApiDaemon(FAST_MONITOR);
    await post('/v1/containers', sleeper('a'));
    await post('/v1/containers', sleeper('b'));
    await d.until('a', 'RUNNING');
    await d.until('b', 'RUNNING');
    await post('/v1/containers/b/kill');
    await d.until('b', 'DONE');
    await waitFor(() => d!.node.view('a').usage !== null, 10_000, 'usage of a');
    // A tick every 100 ms may land during the request: take a scrape during which a's usage did not move.
    const pmemOfA = () => d!.node.view('a').usage!.pmemBytes;
    const { r, pmem } = await waitForAsync(async () => {
      const before = pmemOfA();
      const scraped = await get('/metrics');
      return pmemOfA() === before ? { r: scraped, pmem: before } : null;
    }, 15_000, 'a scrape between two usage changes of a');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parsePrometheus(r.body);
    const value = (name: string, labels = '') => samples.get(`${name}${labels}`);
    expect(value('nodewarden_containers', '{state="RUNNING"}')).toBe(1);
    expect(value('nodewarden_containers', '{state="DONE"}')).toBe(1);
    expect(value('nodewarden_containers', '{state="NEW"}')).toBe(0);
    expect(value('nodewarden_container_pmem_bytes', '{container="a"}')).toBe(pmem);
    expect(value('nodewarden_container_vmem_bytes', '{container="a"}')).toBeGreaterThan(0);
    expect(value('nodewarden_container_cpu_percent', '{container="a"}')).toBeGreaterThanOrEqual(0);
    expect(value('nodewarden_container_kills_total', '{exit_status="-105"}')).toBe(1);
    const transitions = (await d.node.transitions('a')).length + (await d.node.transitions('b')).length;
    expect(value('nodewarden_transitions_total')).toBe(transitions);
    expect(value('nodewarden_monitor_tick_duration_seconds_count')).toBeGreaterThan(0);
    expect(value('nodewarden_monitor_tick_duration_seconds_bucket', '{le="+Inf"}')).toBe(value('nodewarden_monitor_tick_duration_seconds_count'));
    expect(value('nodewarden_process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});

/** Every sample line must be `name{labels} value`; returns name+labels → value. */
function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

describe('socket API: the events stream', () => {
  it('streams the journal as NDJSON in seq order, from `since`, and follows new commits', async () => {
    d = await startApiDaemon();
    await post('/v1/containers', { id: 'e1', command: ['true'], resources: { memoryMb: 16, vcores: 1 } });
    await d.until('e1', 'DONE');
    const all = await get('/v1/events');
    expect(all.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const records = all.body.trimEnd().split('\n').map((l) => JSON.parse(l));
    // Transitions and kills only (the inputs between them are for `journal export`), in seq order.
    expect(records.map((r) => r.type)).toEqual(['transition', 'transition', 'transition', 'transition']);
    const seqs = records.map((r) => r.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(records[0]).toEqual({ seq: seqs[0], ts: records[0].ts, type: 'transition', container: 'e1', from: 'NEW', to: 'SCHEDULED', event: { type: 'INIT_CONTAINER', ts: records[0].ts } });
    expect(records.at(-1)).toMatchObject({ to: 'DONE' });
    const since = await get(`/v1/events?since=${seqs[1]}`);
    expect(since.body.trimEnd().split('\n').map((l) => JSON.parse(l).seq)).toEqual(seqs.slice(2));
    // The spellings curl users write: a zero-padded seq, follow=0 (and follow=1 or a bare follow, below).
    expect((await get(`/v1/events?since=000${seqs[1]}&follow=0`)).body).toBe(since.body);

    // Follow: the history first, then each commit as it happens, with no gap and no repeat.
    const seen: number[] = [];
    const stop = new AbortController();
    const following = d.client.stream(`/v1/events?since=${seqs[2]}&follow=1`, (r) => seen.push((r as { seq: number }).seq), stop.signal);
    await waitFor(() => seen.length === 1, 15_000, 'the history');
    await post('/v1/containers', { id: 'e2', command: ['true'], resources: { memoryMb: 16, vcores: 1 } });
    await d.until('e2', 'DONE');
    await waitFor(() => seen.length === 5, 15_000, 'the followed records');
    const after = (await get(`/v1/events?since=${seqs[2]}`)).body.trimEnd().split('\n').map((l) => JSON.parse(l).seq);
    expect(seen).toEqual(after);
    stop.abort();
    await following;
  });

  it('a followed stream ends when the daemon closes, and the socket file goes with it', async () => {
    d = await startApiDaemon();
    const seen: unknown[] = [];
    const following = d.client.stream('/v1/events?follow', (r) => seen.push(r));
    await post('/v1/containers', { id: 'f1', command: ['true'], resources: { memoryMb: 16, vcores: 1 } });
    await waitFor(() => seen.length > 0, 15_000, 'the stream to be open');
    await d.daemon.close();
    await following;
    expect(fs.existsSync(d.socket)).toBe(false);
  });
});

describe('socket API: the socket file', () => {
  /** The defaults, but a cgroup hierarchy of the test's own (where cgroups are in force), removed after it. */
  const settings = () => {
    const hierarchy = testHierarchy();
    cleanups.push(() => cleanupHierarchy(hierarchy));
    return resolveConfig([containmentSettings(hierarchy)]);
  };
  const quiet = pino({ level: 'silent' });
  const tmp = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-sock-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  const start = (dir: string, socketPath: string, db = path.join(dir, 'db', `${path.basename(socketPath)}.sqlite`)) =>
    Daemon.start({ config: settings(), dbPath: db, workDir: path.join(dir, 'var'), socketPath, log: quiet });

  it('is created with mode 0660 in a private directory', async () => {
    d = await startApiDaemon();
    expect(fs.statSync(d.socket).mode & 0o777).toBe(0o660);
    expect(fs.statSync(d.socket).isSocket()).toBe(true);
    expect(fs.statSync(path.dirname(d.socket)).mode & 0o002).toBe(0);
  });

  it('a live socket makes a second daemon refuse, naming the holder; a second daemon on the same database refuses too', async () => {
    d = await startApiDaemon();
    const dir = tmp();
    await expect(start(dir, d.socket)).rejects.toThrow(new StartupError(`nodewarden pid ${process.pid} is already serving ${d.socket}; stop it first, or choose another --socket`));
    await expect(start(dir, path.join(dir, 'other.sock'), d.dbPath)).rejects.toThrow(StoreError);
    await expect(start(dir, path.join(dir, 'other.sock'), d.dbPath)).rejects.toThrow(/is in use by/);
    // The first daemon is unharmed.
    expect((await get('/healthz')).status).toBe(200);
    expect(fs.existsSync(path.join(dir, 'other.sock'))).toBe(false);
  });

  it('the same database reached through a symlinked directory is still held', async () => {
    d = await startApiDaemon();
    const dir = tmp();
    const link = path.join(dir, 'db-link');
    fs.symlinkSync(path.dirname(d.dbPath), link);
    await expect(start(dir, path.join(dir, 'other.sock'), path.join(link, path.basename(d.dbPath)))).rejects.toThrow(/is in use by/);
  });

  it('a stale socket left by a dead daemon is replaced', async () => {
    const dir = tmp();
    const socketPath = path.join(dir, 'stale.sock');
    // A process that listens and is SIGKILLed leaves its socket file behind.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`]);
    cleanups.push(() => void child.kill('SIGKILL'));
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(fs.statSync(socketPath).isSocket()).toBe(true);
    await expect(new Promise((resolve, reject) => net.connect(socketPath).once('connect', resolve).once('error', reject))).rejects.toThrow(/ECONNREFUSED/);
    const daemon = await start(dir, socketPath);
    cleanups.push(() => daemon.close());
    const health = await curl(socketPath, ['http://localhost/healthz']);
    expect(health.json).toEqual({ status: 'ok', pid: process.pid });
  });

  it('a file that is not a socket, or a world-writable directory, is refused and left alone', async () => {
    const dir = tmp();
    const file = path.join(dir, 'not-a-socket');
    fs.writeFileSync(file, 'keep me');
    await expect(start(dir, file)).rejects.toThrow(/exists and is not a socket/);
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
    const open = path.join(dir, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    await expect(start(dir, path.join(open, 'nw.sock'))).rejects.toThrow(/writable by everyone/);
    expect(fs.readdirSync(open)).toEqual([]);
  });

  it('the client names the socket when no daemon is there', async () => {
    const dir = tmp();
    const { NodewardenClient, UnreachableError } = await import('../src/client/client.js');
    const client = new NodewardenClient(path.join(dir, 'none.sock'));
    await expect(client.get('/healthz')).rejects.toThrow(UnreachableError);
    await expect(client.get('/healthz')).rejects.toThrow(`cannot reach nodewarden at ${path.join(dir, 'none.sock')}: is it running?`);
    client.close();
  });
});
