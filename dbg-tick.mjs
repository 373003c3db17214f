import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createBus } from './dist/src/bus.js';
import { systemClock } from './dist/src/clock.js';
import { resolveConfig } from './dist/src/config/load.js';
import { Dispatcher } from './dist/src/core/dispatcher.js';
import { ContainersMonitor } from './dist/src/monitor/containers-monitor.js';
import { Store } from './dist/src/store/store.js';
const trees = Number(process.argv[2] ?? 1);
const root = process.argv[3] ?? '/proc';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbg-'));
const store = new Store(path.join(dir, 'db.sqlite'));
const config = resolveConfig([{ 'nodewarden.procfs.root': root, 'yarn.nodemanager.container-monitor.interval-ms': 3_600_000 }]);
const log = pino({ level: 'warn' });
const bus = createBus(log);
const core = new Dispatcher(store, bus, config, log);
const monitor = new ContainersMonitor({ config, core, bus, clock: systemClock, log, workDir: dir });
const pids = root === "/proc" ? fs.readdirSync(root).filter((n) => /^\d+$/.test(n)).map(Number).slice(0, trees) : Array.from({ length: trees }, (_, i) => 1000 + 10 * i);
pids.forEach((p, i) => core.monitor({ type: 'START_MONITORING', ts: Date.now(), id: `f${i}`, pid: p, resources: { memoryMb: 64, vcores: 1 } }));
await core.durable();
const sampler = monitor.sampler;
const roots = new Map(pids.map((p, i) => [`f${i}`, p]));
for (let i = 0; i < 50; i++) { monitor.tick(); await core.durable(); }
const N = 200;
const t = { tick: 0, sample: 0, scan: 0, step: 0 };
for (let i = 0; i < N; i++) {
  let a = performance.now(); monitor.tick(); t.tick += performance.now() - a;
  await core.durable();
  a = performance.now(); sampler.reader.scan(); t.scan += performance.now() - a;
  a = performance.now(); const s = sampler.sample(roots); t.sample += performance.now() - a;
  a = performance.now(); core.monitor({ type: 'TICK', ts: Date.now(), samples: s }); t.step += performance.now() - a;
  await core.durable();
}
for (const [k, v] of Object.entries(t)) console.log(k, (v / N).toFixed(3), 'ms');
store.close();
fs.rmSync(dir, { recursive: true, force: true });
