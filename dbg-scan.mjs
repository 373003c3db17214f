import fs from 'node:fs';
import { ProcfsReader } from './dist/src/procfs/procfs-reader.js';
const root = process.argv[2];
const fds = new Map(); const buf = Buffer.allocUnsafe(4096);
function held() { let b = 0; for (const name of fs.readdirSync(root)) { const c = name.charCodeAt(0); if (c < 49 || c > 57) continue; let fd = fds.get(name); if (fd === undefined) fds.set(name, fd = fs.openSync(`${root}/${name}/stat`, 'r')); b += fs.readSync(fd, buf, 0, 4096, 0); } return b; }
const r = new ProcfsReader(root, { keepOpen: true });
const time = (f) => { const a = performance.now(); f(); return performance.now() - a; };
for (let i = 0; i < 20; i++) { held(); r.scan(); }
const h = [], s = [], l = [];
for (let i = 0; i < 30; i++) { h.push(time(held)); s.push(time(() => r.scan())); l.push(time(() => r.listPids())); }
const med = (a) => a.sort((x, y) => x - y)[a.length >> 1].toFixed(2);
console.log('held', med(h), 'scan', med(s), 'listPids', med(l));
