/**
 * What an operator takes from examples/: the Prometheus config, the alert
 * rules (with their own unit tests) and the Grafana dashboard, checked with
 * promtool and against a live scrape; and a real Prometheus scraping two
 * daemons over TCP, asked through its own query API.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startApiDaemon, type ApiTestDaemon } from './helpers/daemon.js';
import { waitForAsync } from './helpers/proc.js';

const EXAMPLES = path.resolve(import.meta.dirname, '..', 'examples');
const has = (tool: string) => spawnSync(tool, ['--version']).status === 0;
const HAS_PROMTOOL = has('promtool');
const HAS_PROMETHEUS = has('prometheus');

function promtool(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** The metric families a scrape has (a histogram's _sum, _count and _bucket included). */
function families(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]!);
    if (m[2] === 'histogram') for (const s of ['_sum', '_count', '_bucket']) names.add(m[1]! + s);
  }
  return names;
}

async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe.runIf(HAS_PROMTOOL)('examples/prometheus, checked by promtool', () => {
  const dir = path.join(EXAMPLES, 'prometheus');
  it('prometheus.yml is a valid config (its rule file and file_sd targets included)', () => {
    const r = promtool(['check', 'config', 'prometheus.yml'], dir);
    expect(r.out).toContain('SUCCESS: prometheus.yml is valid prometheus config file syntax');
    expect(r.status).toBe(0);
  });

  it('nodewarden.rules.yml: valid, and its unit tests pass (each alert fires where it should and not elsewhere)', () => {
    const check = promtool(['check', 'rules', 'nodewarden.rules.yml'], dir);
    expect(check.out).toContain('SUCCESS: 5 rules found');
    expect(check.status).toBe(0);
    const test = promtool(['test', 'rules', 'nodewarden.rules.test.yml'], dir);
    expect(test.out).toContain('SUCCESS');
    expect(test.status).toBe(0);
  });
});

describe('examples against a live scrape', () => {
  let daemons: ApiTestDaemon[] = [];
  let prometheus: ChildProcess | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
      const gone = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await gone;
    }
    for (const d of daemons) await d.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    daemons = [];
    prometheus = undefined;
    dir = undefined;
  });

  /** A daemon serving metrics on a loopback port, with one container running. */
  async function daemonWith(id: string): Promise<ApiTestDaemon> {
    const d = await startApiDaemon({ 'nodewarden.metrics.address': '127.0.0.1:0', 'yarn.nodemanager.container-monitor.interval-ms': 200 });
    daemons.push(d);
    await d.node.launch({ id, command: ['sleep', '600'], resources: { memoryMb: 64, vcores: 1 } });
    await waitForAsync(async () => (await scrape(d.daemon.metrics!.port)).includes(`container_memory_rss{id="${id}",name="${id}"}`) || undefined, 15_000, `${id} in the scrape`);
    return d;
  }

  it('every metric the Grafana dashboard and the alert rules name is in a live scrape', async () => {
    const d = await daemonWith('c1');
    const have = families(await scrape(d.daemon.metrics!.port));
    const dashboard = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'grafana', 'nodewarden.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const rules = fs.readFileSync(path.join(EXAMPLES, 'prometheus', 'nodewarden.rules.yml'), 'utf8');
    const exprs = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...[...rules.matchAll(/^\s+expr: (.*(?:\n\s{10}.*)*)/gm)].map((m) => m[1]!)];
    const named = new Set(exprs.flatMap((e) => [...e.matchAll(/\b((?:nodewarden|container)_[a-z0-9_]+)\b/g)].map((m) => m[1]!)));
    expect(named.size).toBeGreaterThan(10);
    expect([...named].filter((n) => !have.has(n))).toEqual([]);
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(8);
  });

  it.runIf(HAS_PROMETHEUS)('a real Prometheus scrapes two daemons over TCP: up == 1 for both, and each one\'s running container\'s container_memory_rss', { timeout: 90_000 }, async () => {
    const a = await daemonWith('on-a');
    const b = await daemonWith('on-b');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-prometheus-'));
    // The example's config, with these two daemons as its file_sd targets and a fast scrape.
    fs.mkdirSync(path.join(dir, 'targets'));
    fs.writeFileSync(path.join(dir, 'targets', 'nodes.yml'), `- targets: ['127.0.0.1:${a.daemon.metrics!.port}', '127.0.0.1:${b.daemon.metrics!.port}']\n`);
    fs.copyFileSync(path.join(EXAMPLES, 'prometheus', 'nodewarden.rules.yml'), path.join(dir, 'nodewarden.rules.yml'));
    const config = fs.readFileSync(path.join(EXAMPLES, 'prometheus', 'prometheus.yml'), 'utf8').replace(/scrape_interval: 15s/, 'scrape_interval: 1s').replace(/refresh_interval: 1m/, 'refresh_interval: 1s');
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), config);
    const port = await freePort();
    let out = '';
    prometheus = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    prometheus.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    prometheus.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const query = async (q: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      return body.data.result;
    };
    const ready = async () => (await fetch(`http://127.0.0.1:${port}/-/ready`).then((r) => r.ok, () => false)) || undefined;
    try {
      await waitForAsync(ready, 30_000, 'Prometheus to be ready');
      const up = await waitForAsync(async () => {
        const r = await query('up{job="nodewarden"} == 1');
        return r.length === 2 ? r : undefined;
      }, 30_000, 'both daemons up');
      expect(up.map((s) => s.metric.instance).sort()).toEqual([`127.0.0.1:${a.daemon.metrics!.port}`, `127.0.0.1:${b.daemon.metrics!.port}`].sort());
      const rss = await waitForAsync(async () => {
        const r = await query('container_memory_rss{job="nodewarden"}');
        return r.length === 2 ? r : undefined;
      }, 30_000, 'container_memory_rss from both');
      expect(rss.map((s) => `${s.metric.instance} ${s.metric.name}`).sort()).toEqual(
        [`127.0.0.1:${a.daemon.metrics!.port} on-a`, `127.0.0.1:${b.daemon.metrics!.port} on-b`].sort(),
      );
      for (const s of rss) expect(Number(s.value[1])).toBeGreaterThan(0);
      // The example's alert rules loaded into the real Prometheus.
      const rules = (await (await fetch(`http://127.0.0.1:${port}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> } };
      expect(rules.data.groups.flatMap((g) => g.rules).map((r) => r.name)).toHaveLength(5);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nprometheus said:\n${out.slice(-3000)}`);
    }
  });
});
