/**
 * Prometheus over TCP (nodewarden.metrics.address): /metrics and /healthz
 * only, the write API never; a bad address or a port in use is one clear
 * line at start. The whole scrape passes `promtool check metrics`, and a
 * finished container's series leave it after the unregister delay.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startApiDaemon, type ApiTestDaemon } from './helpers/daemon.js';
import { DaemonDir } from './helpers/daemon-process.js';
import { waitForAsync } from './helpers/proc.js';

const HAS_PROMTOOL = spawnSync('promtool', ['--version']).status === 0;

async function get(port: number, path: string, init: RequestInit = {}): Promise<{ status: number; text: string; json: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

describe('metrics over TCP', () => {
  let d: ApiTestDaemon | undefined;
  let dd: DaemonDir | undefined;
  let blocker: net.Server | undefined;
  afterEach(async () => {
    await d?.stop();
    await dd?.cleanup();
    await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
    d = undefined;
    dd = undefined;
    blocker = undefined;
  });

  it('serves GET /metrics and /healthz; every other path is 404, another method 405, in the error shape; the write API is not there', async () => {
    d = await startApiDaemon({ 'nodewarden.metrics.address': '127.0.0.1:0' });
    const port = d.daemon.metrics!.port;
    const metrics = await get(port, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('# TYPE nodewarden_containers gauge');
    expect((await get(port, '/healthz')).json).toMatchObject({ status: 'ok', pid: process.pid });

    for (const path of ['/v1/node', '/v1/containers', '/v1/events', '/monitor/statistics', '/ws/v1/node/containers', '/']) {
      const r = await get(port, path);
      expect(r.status, path).toBe(404);
      expect(r.json, path).toMatchObject({ error: { code: 'NOT_FOUND' } });
      expect(r.json.error.message, path).toContain('this port serves only GET /metrics and /healthz; the API is on the Unix socket');
    }
    const launch = await get(port, '/v1/containers', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ command: ['true'] }) });
    expect(launch.status).toBe(404);
    expect(d.node.list()).toEqual([]);
    // Reachable from the network: a silent or slow client is let go, and connections are capped.
    const server = d.daemon.metrics!.server.app.server;
    expect([server.requestTimeout, server.maxConnections]).toEqual([10_000, 64]);
    const post = await get(port, '/metrics', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.json).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED' } });
  });

  it('a loopback address is quiet; any other is served with a warning that it is reachable from elsewhere', async () => {
    const logged: string[] = [];
    d = await startApiDaemon({ 'nodewarden.metrics.address': '0.0.0.0:0' }, { log: pino({ level: 'info' }, { write: (l: string) => void logged.push(l) }) });
    expect((await get(d.daemon.metrics!.port, '/healthz')).status).toBe(200);
    const lines = logged.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(lines.find((l) => l.msg.startsWith('serving metrics on http://0.0.0.0:'))).toBeDefined();
    expect(lines.find((l) => l.level === 40 && l.msg.includes('reachable from other machines'))).toBeDefined();
  });

  it('--metrics-address: a port in use is one line naming the key; so is an address that is not HOST:PORT; nothing else is started', async () => {
    blocker = net.createServer();
    await new Promise<void>((resolve) => blocker!.listen(0, '127.0.0.1', resolve));
    const busy = (blocker.address() as net.AddressInfo).port;
    dd = new DaemonDir();
    const inUse = await dd.start({ set: {}, args: ['--metrics-address', `127.0.0.1:${busy}`] }).then(
      () => 'started',
      (err: Error) => err.message,
    );
    expect(inUse).toContain(`cannot serve metrics on 127.0.0.1:${busy} (nodewarden.metrics.address): the port is in use by another process`);
    expect(inUse).not.toMatch(/\n\s+at /); // no stack trace

    const bad = await dd.start({ set: {}, args: ['--metrics-address', 'localhost'] }).then(
      () => 'started',
      (err: Error) => err.message,
    );
    expect(bad).toMatch(/nodewarden\.metrics\.address.*HOST:PORT/);
  });

  it.runIf(HAS_PROMTOOL)('promtool check metrics finds nothing in a whole scrape with a running container, prom-client\'s own metrics included', async () => {
    d = await startApiDaemon({ 'nodewarden.metrics.address': '127.0.0.1:0', 'yarn.nodemanager.container-monitor.interval-ms': 100 });
    await d.node.launch({ id: 'sleeper', command: ['sleep', '60'], resources: { memoryMb: 64, vcores: 1 } });
    const port = d.daemon.metrics!.port;
    const text = await waitForAsync(async () => {
      const t = (await get(port, '/metrics')).text;
      return t.includes('container_memory_rss{id="sleeper",name="sleeper"}') ? t : undefined;
    }, 15_000, 'the container in the scrape');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it("cAdvisor's names and types for each container, labelled id and name; the limit is the one the monitor enforces", async () => {
    d = await startApiDaemon({ 'nodewarden.metrics.address': '127.0.0.1:0', 'yarn.nodemanager.container-monitor.interval-ms': 100 });
    await d.node.launch({ id: 'web', command: ['sleep', '60'], resources: { memoryMb: 64, vcores: 2 } });
    const port = d.daemon.metrics!.port;
    const text = await waitForAsync(async () => {
      const t = (await get(port, '/metrics')).text;
      return /^container_threads\{id="web",name="web"\} \d+$/m.test(t) ? t : undefined;
    }, 15_000, 'its figures');
    const types: Record<string, 'gauge' | 'counter'> = {
      container_memory_working_set_bytes: 'gauge',
      container_memory_rss: 'gauge',
      container_memory_usage_bytes: 'gauge',
      container_spec_memory_limit_bytes: 'gauge',
      container_spec_cpu_shares: 'gauge',
      container_cpu_usage_seconds_total: 'counter',
      container_cpu_user_seconds_total: 'counter',
      container_cpu_system_seconds_total: 'counter',
      container_processes: 'gauge',
      container_threads: 'gauge',
    };
    for (const [name, type] of Object.entries(types)) {
      expect(text, name).toContain(`# TYPE ${name} ${type}\n`);
      expect(text, name).toMatch(new RegExp(`^${name}\\{id="web",name="web"\\} [0-9.e+-]+$`, 'm'));
    }
    // Request plus the executor allowance (32 MB): what the monitor kills over, not a cgroup backstop above it.
    expect(text).toContain(`container_spec_memory_limit_bytes{id="web",name="web"} ${(64 + 32) * 2 ** 20}\n`);
    expect(text).toContain('container_spec_cpu_shares{id="web",name="web"} 2048\n');
    if (d.node.containment.mode !== 'process-group') {
      expect(text).toContain('# TYPE container_memory_cache gauge\n');
      expect(text).toContain('container_oom_events_total{id="web",name="web"} 0\n');
    }
  });

  it('a finished container leaves the scrape once the unregister delay is over (bounded label cardinality)', async () => {
    d = await startApiDaemon({
      'nodewarden.metrics.address': '127.0.0.1:0',
      'yarn.nodemanager.container-monitor.interval-ms': 100,
      'yarn.nodemanager.container-metrics.unregister-delay-ms': 500,
    });
    const port = d.daemon.metrics!.port;
    await d.node.launch({ id: 'brief', command: ['sleep', '60'], resources: { memoryMb: 64, vcores: 1 } });
    const series = /^(container_\w+|nodewarden_container_\w+)\{[^}]*"brief"/m;
    await waitForAsync(async () => series.test((await get(port, '/metrics')).text) || undefined, 15_000, 'its series');
    // The scrape the moment it is DONE (collected before any timer can run): its last figures are still there…
    let atDone: Promise<string> | undefined;
    d.node.bus.on('transitions', (rows) => {
      if (rows.some((r) => r.containerId === 'brief' && r.to === 'DONE')) atDone = d!.daemon.server.metrics.text();
    });
    await d.node.kill('brief');
    await d.until('brief', 'DONE');
    expect(await atDone).toMatch(series);
    // …and once the delay is over, gone, every one of them.
    await waitForAsync(async () => !series.test((await get(port, '/metrics')).text) || undefined, 15_000, 'its series to go');
  });

  it('each kill status is a series at 0 from the start, so the first kill is a rise that rate() sees', async () => {
    d = await startApiDaemon({ 'nodewarden.metrics.address': '127.0.0.1:0' });
    const text = (await get(d.daemon.metrics!.port, '/metrics')).text;
    for (const status of [-100, -102, -103, -104, -105, -106, -107, -108, -109]) expect(text).toContain(`nodewarden_container_kills_total{exit_status="${status}"} 0\n`);
    await d.node.launch({ id: 'k', command: ['sleep', '60'], resources: { memoryMb: 64, vcores: 1 } });
    await d.until('k', 'RUNNING');
    await d.node.kill('k');
    await d.until('k', 'DONE');
    expect((await get(d.daemon.metrics!.port, '/metrics')).text).toContain('nodewarden_container_kills_total{exit_status="-105"} 1\n');
  });

  it('a CPU counter never goes down: a tree whose busy child exits keeps the time it has shown', async () => {
    // Process groups: the figures are the tree's, whose sum falls when the child exits (its time goes to the
    // parent's cutime, which /proc/<pid>/stat's utime does not count). With a cgroup, cpuacct keeps it anyway.
    d = await startApiDaemon({
      'nodewarden.metrics.address': '127.0.0.1:0',
      'nodewarden.cgroups.enabled': 'false',
      'yarn.nodemanager.container-monitor.interval-ms': 100,
      // A node process's address space is over any small container's virtual limit: not what this is about.
      'yarn.nodemanager.vmem-check-enabled': false,
    });
    const port = d.daemon.metrics!.port;
    // The child burns until the test has seen its time, however slowly the machine ticks.
    const stop = path.join(d.dir, 'stop');
    const burn = `const fs = require('fs'); for (let i = 0; ; i++) if (i % 1e6 === 0 && fs.existsSync(${JSON.stringify(stop)})) break;`;
    await d.node.launch({ id: 'burst', command: ['sh', '-c', `node -e "$0"; exec sleep 60`, burn], resources: { memoryMb: 256, vcores: 1 } });
    const figure = (name: string, text: string) => Number(new RegExp(`^${name}\\{id="burst",name="burst"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    // While the child burns, the counter rises past 0.2 s…
    const during = await waitForAsync(async () => {
      const text = (await get(port, '/metrics')).text;
      const v = figure('container_cpu_usage_seconds_total', text);
      return v >= 0.2 ? { cpu: v, processes: figure('container_processes', text) } : undefined;
    }, 30_000, 'the busy child to show 0.2 s of CPU');
    fs.writeFileSync(stop, '');
    // …and once the child is gone (the wrapper and a sleeping shell left), it has not fallen.
    const after = await waitForAsync(async () => {
      const text = (await get(port, '/metrics')).text;
      return figure('container_processes', text) < during.processes ? figure('container_cpu_usage_seconds_total', text) : undefined;
    }, 30_000, 'the busy child to exit');
    expect(after).toBeGreaterThanOrEqual(during.cpu);
  });
});
