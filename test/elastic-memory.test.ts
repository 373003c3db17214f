/**
 * YARN's elastic memory control on the real kernel (cgroup v1): the node
 * cgroup holds the containers together to memory-mb with the kernel's OOM
 * killer off there; the eventfd notice wakes the OOM handler, which kills
 * one container at a time in DefaultOOMHandler's order. Then a daemon
 * restarted while the node is out of memory resolves it. The order itself,
 * exactly, is in node-memory.test.ts; v2's files on a fake directory in
 * cgroup-v2-fake.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { exportLines } from '../src/journal/export.js';
import { replayLines } from '../src/journal/replay.js';
import { ApiMetrics } from '../src/server/metrics.js';
import { ExitStatus } from '../state-machines/exit-status.js';
import { HIERARCHY_KEY, ownV1Cgroups, TestCgroups } from './helpers/cgroups.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { curl } from './helpers/curl.js';
import { startApiDaemon, startDaemon, type TestDaemon } from './helpers/daemon.js';
import { DaemonDir } from './helpers/daemon-process.js';
import { waitFor } from './helpers/proc.js';

const own = ownV1Cgroups();
const HOG = path.resolve(import.meta.dirname, 'fixtures/hog.mjs');
const MB = 2 ** 20;

/** Grows by 8 MB every 10 ms, touched, once the file `go` exists in its working directory (at once when it does already). */
const GROW = "const fs = require('fs'); const h = []; setInterval(() => { if (fs.existsSync('go')) h.push(Buffer.alloc(8 << 20, 1)); }, 10);";

/** Elastic control over a node of 1 GB; the polling monitor off: only the node cgroup's OOM decides here. */
const ELASTIC = {
  'nodewarden.cgroups.enabled': 'true',
  'yarn.nodemanager.elastic-memory-control.enabled': true,
  'yarn.nodemanager.resource.memory-mb': 1024,
  'yarn.nodemanager.container-monitor.enabled': false,
  'yarn.nodemanager.opportunistic-containers-max-queue-length': 10,
};

describe.runIf(own !== null)('elastic memory control (v1, real kernel)', () => {
  let d: TestDaemon | undefined;
  let dd: DaemonDir | undefined;
  let cgroups: TestCgroups | undefined;
  let stranger: ChildProcess | undefined;
  afterEach(async () => {
    try {
      // Gone before the cgroup it was put in is removed (an exiting process still holds it).
      if (stranger && stranger.exitCode === null && stranger.signalCode === null) {
        const exited = new Promise((resolve) => stranger!.once('exit', resolve));
        stranger.kill('SIGKILL');
        await exited;
      }
      await d?.stop();
      await dd?.cleanup();
    } finally {
      await cgroups?.cleanup();
      d = undefined;
      dd = undefined;
      stranger = undefined;
      cgroups = undefined;
    }
  });

  const hog = (d: TestDaemon, id: string, mb: number, requestMb: number, executionType: 'GUARANTEED' | 'OPPORTUNISTIC') =>
    d.node.launch({ id, command: [process.execPath, HOG, String(mb), 'ready'], resources: { memoryMb: requestMb, vcores: 1 }, executionType });
  const ready = (d: TestDaemon, id: string) => waitFor(() => fs.existsSync(path.join(d.node.view(id).workDir, 'ready')), 30_000, `${id} to hold its memory`);

  it('three containers fill the node: the opportunistic one goes first (-108), then the guaranteed one over its request (-102); the one under its request survives, and the daemon answers throughout', async () => {
    cgroups = new TestCgroups(own!);
    const logged: string[] = [];
    d = startDaemon({ ...ELASTIC, [HIERARCHY_KEY]: cgroups.hierarchy }, { log: pino({ level: 'info' }, { write: (l: string) => void logged.push(l) }) });

    // The node cgroup: memory-mb, with the kernel's OOM killer off (it waits for our handler).
    const memory = path.join(own!.memory, cgroups.hierarchy);
    expect(Number(fs.readFileSync(path.join(memory, 'memory.limit_in_bytes'), 'utf8'))).toBe(1024 * MB);
    expect(fs.readFileSync(path.join(memory, 'memory.oom_control'), 'utf8')).toMatch(/^oom_kill_disable 1$/m);
    expect(d.node.nodeReport().elastic).toMatchObject({ limitBytes: 1024 * MB, underOom: false, kills: 0 });

    await hog(d, 'steady', 200, 400, 'GUARANTEED');
    await hog(d, 'best-effort', 150, 300, 'OPPORTUNISTIC');
    await ready(d, 'steady');
    await ready(d, 'best-effort');
    // No container has a memory limit of its own: it may burst while the node has room.
    expect(Number(fs.readFileSync(cgroups.dir('memory', 'steady') + '/memory.limit_in_bytes', 'utf8'))).toBeGreaterThan(2 ** 62);

    await d.node.launch({ id: 'burst', command: ['sh', '-c', `touch go; exec ${process.execPath} -e "${GROW}"`], resources: { memoryMb: 200, vcores: 1 } });
    await d.until('best-effort', 'DONE', 60_000);
    // The daemon answered while the node was out of memory.
    expect(d.node.view('steady').state).toBe('RUNNING');
    await d.until('burst', 'DONE', 60_000);

    const bestEffort = d.node.view('best-effort');
    expect(bestEffort.exitStatus).toBe(ExitStatus.KILLED_BY_CONTAINER_SCHEDULER);
    expect(bestEffort.diagnostics).toContain("killed by the node's OOM handler (elastic memory control): the containers together reached the node's memory limit of 1 GB");
    expect(bestEffort.diagnostics).toMatch(/It was using [\d.]+ MB of its 300 MB request \(OPPORTUNISTIC\); it went first because it is OPPORTUNISTIC\./);
    const burst = d.node.view('burst');
    expect(burst.exitStatus).toBe(ExitStatus.PREEMPTED);
    expect(burst.diagnostics).toMatch(/It was using [\d.]+ MB of its 200 MB request \(GUARANTEED\); it went first because it is GUARANTEED and over its request\./);
    expect(d.node.view('steady').state).toBe('RUNNING');
    // The handler sees the node out of OOM at its next look (every 10 ms), which may come after the DONE.
    await waitFor(() => d!.node.nodeReport().elastic?.underOom === false, 30_000, 'the node to be out of OOM');
    expect(d.node.nodeReport().elastic).toMatchObject({ underOom: false, kills: 2, unresolved: false });
    expect(logged.filter((l) => l.includes("killed by the elastic memory control's OOM handler"))).toHaveLength(2);
    const metrics = await new ApiMetrics(d.node).text();
    expect(metrics).toContain(`nodewarden_node_memory_limit_bytes ${1024 * MB}\n`);
    expect(metrics).toContain('nodewarden_node_memory_oom_kills_total 2\n');
    expect(metrics).toMatch(/^nodewarden_node_memory_oom_episodes_total [12]$/m); // two, or one if the second filled the node before the first was seen over
    expect(metrics).toContain('nodewarden_node_memory_oom 0\n');

    // Each notice is an input: journaled, and replay decides the same two kills.
    await d.node.durable();
    const lines = await exportLines(d.dbPath);
    const notices = lines.map((l) => JSON.parse(l)).filter((r) => r.type === 'monitor' && r.event.type === 'NODE_OOM');
    expect(notices).toHaveLength(2);
    expect(notices[0].event.limitBytes).toBe(1024 * MB);
    const replayed = replayLines(lines, { check: true });
    expect(replayed.divergence).toBeNull();
    expect(replayed.kills).toBe(2);
  }, 120_000);

  it('a daemon restarted while the node is out of memory resolves it at once: the container over its request goes, the other stays', async () => {
    cgroups = new TestCgroups(own!);
    dd = new DaemonDir();
    const set = { ...ELASTIC, [HIERARCHY_KEY]: cgroups.hierarchy };
    await dd.start({ set });
    await dd.launch('steady', [process.execPath, HOG, '100', 'ready'], { resources: { memoryMb: 300, vcores: 1 } });
    await dd.launch('burst', [process.execPath, '-e', GROW], { resources: { memoryMb: 200, vcores: 1 } });
    const steady = await dd.until('steady', 'RUNNING');
    const burst = await dd.until('burst', 'RUNNING');
    await waitFor(() => fs.existsSync(path.join(steady.workDir, 'ready')), 30_000, 'steady to hold its memory');
    await dd.durable('burst');
    await dd.crash();

    // With nobody to handle it, the node stays out of memory: the kernel only waits.
    fs.writeFileSync(path.join(burst.workDir, 'go'), '');
    await waitFor(() => cgroups!.driver.hierarchyMemory()?.underOom === true, 30_000, 'the node cgroup to be out of memory');

    await dd.start({ set });
    const done = await dd.until('burst', 'DONE', 30_000);
    expect(done.exitStatus).toBe(ExitStatus.PREEMPTED);
    await waitFor(() => cgroups!.driver.hierarchyMemory()?.underOom === false, 30_000, 'the node to be out of OOM');
    expect((await dd.view('steady')).state).toBe('RUNNING');
    const health = await dd.current!.client.get<{ status: string }>('/healthz');
    expect(health.status).toBe('ok');
  }, 120_000);

  it('an OOM no container kill can resolve (a process the daemon did not start fills the node cgroup): said in the log, degraded in /healthz and /v1/node past the timeout, ok again once it ends', async () => {
    cgroups = new TestCgroups(own!);
    const logged: string[] = [];
    const api = await startApiDaemon(
      { ...ELASTIC, 'yarn.nodemanager.resource.memory-mb': 256, 'yarn.nodemanager.elastic-memory-control.timeout-sec': 1, [HIERARCHY_KEY]: cgroups.hierarchy },
      { log: pino({ level: 'info' }, { write: (l: string) => void logged.push(l) }) },
    );
    d = api;
    // Placed straight into the node cgroup (beneath the daemon's hierarchy, which this test made): no container holds it.
    const memory = path.join(own!.memory, cgroups.hierarchy);
    stranger = spawn(process.execPath, ['-e', GROW.replace("fs.existsSync('go')", 'true')], { stdio: 'ignore' });
    fs.writeFileSync(path.join(memory, 'cgroup.procs'), String(stranger.pid));
    await waitFor(() => api.node.nodeReport().elastic?.unresolved === true, 30_000, 'the OOM to pass its timeout');

    const health = await curl(api.socket, ['http://localhost/healthz']);
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ status: 'degraded', memory: { limitBytes: 256 * MB } });
    expect(api.node.nodeReport().elastic).toMatchObject({ underOom: true, unresolved: true, kills: 0 });
    const said = logged.map((l) => JSON.parse(l).msg as string);
    expect(said.some((m) => m.includes('no running container is left to kill'))).toBe(true);
    expect(said.some((m) => /OOM was not resolved in \d+ ms .* the node is degraded and the handler goes on/.test(m))).toBe(true);

    // With nothing to kill and nothing started since, the handler asked once: one NODE_OOM in the journal, not one a second.
    await api.node.durable();
    expect((await exportLines(api.dbPath)).filter((l) => l.includes('"NODE_OOM"'))).toHaveLength(1);

    const gone = new Promise((resolve) => stranger!.once('exit', resolve));
    stranger.kill('SIGKILL');
    await gone;
    await waitFor(() => api.node.nodeReport().elastic?.underOom === false, 30_000, 'the OOM to end with the process');
    expect((await curl(api.socket, ['http://localhost/healthz'])).json.status).toBe('ok');
  }, 60_000);

  it('a paused container chosen as the victim is thawed to take its SIGKILL: the node does not stay out of memory', async () => {
    cgroups = new TestCgroups(own!);
    d = startDaemon({ ...ELASTIC, 'yarn.nodemanager.resource.memory-mb': 512, [HIERARCHY_KEY]: cgroups.hierarchy });
    await hog(d, 'paused', 100, 100, 'OPPORTUNISTIC');
    await ready(d, 'paused');
    await d.node.pause('paused');
    await d.until('paused', 'PAUSED');
    await d.node.launch({ id: 'burst', command: ['sh', '-c', `touch go; exec ${process.execPath} -e "${GROW}"`], resources: { memoryMb: 100, vcores: 1 } });
    await d.until('paused', 'DONE', 60_000);
    expect(d.node.view('paused').exitStatus).toBe(ExitStatus.KILLED_BY_CONTAINER_SCHEDULER);
    await d.until('burst', 'DONE', 60_000);
    expect(d.node.view('burst').exitStatus).toBe(ExitStatus.PREEMPTED);
    await waitFor(() => d!.node.nodeReport().elastic?.underOom === false, 30_000, 'the node to be out of OOM');
  }, 120_000);
});
