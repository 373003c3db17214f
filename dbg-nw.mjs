import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { resolveConfig } from './dist/src/config/load.js';
import { NodeWarden } from './dist/src/node/nodewarden.js';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbg-'));
const config = resolveConfig([{ 'yarn.nodemanager.resource.memory-mb': 1 << 20, 'yarn.nodemanager.container-monitor.interval-ms': 3_600_000 }]);
const node = new NodeWarden({ config, dbPath: path.join(dir, 'db.sqlite'), workDir: path.join(dir, 'var'), log: pino({ level: 'warn' }) });
const n = Number(process.argv[2] ?? 1);
for (let i = 0; i < n; i++) await node.launch({ id: `c${i}`, command: ['bash', '-c', 'for i in $(seq 8); do sleep 100000 & done; wait'], resources: { memoryMb: 64, vcores: 1 } });
await new Promise((r) => setTimeout(r, 1500));
const sampler = node.monitor.sampler;
for (let i = 0; i < 50; i++) { node.monitor.tick(); await node.durable(); }
const N = 300; let tick = 0, scan = 0, commit = 0;
for (let i = 0; i < N; i++) {
  let a = performance.now(); node.monitor.tick(); tick += performance.now() - a;
  await node.durable(); commit += performance.now() - a;
  a = performance.now(); sampler.reader.scan(); scan += performance.now() - a;
}
console.log('tick', (tick / N).toFixed(3), 'tick+commit', (commit / N).toFixed(3), 'scan', (scan / N).toFixed(3));
for (const v of node.list()) try { process.kill(-v.pid, 'SIGKILL'); } catch {}
await node.close();
fs.rmSync(dir, { recursive: true, force: true });
