import fs from 'node:fs';
import path from 'node:path';
const root = process.argv[2]; const trees = Number(process.argv[3]);
function w(p) { const fields = ['S', p.ppid, p.pgrp, p.pgrp, 0, -1, 4194560, 0, 0, 0, 0, 3, 1, 0, 0, 20, 0, 1, 0, 1000, 8_000_000, 500, ...Array(30).fill(0)];
  const dir = path.join(root, String(p.pid)); fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'stat'), `${p.pid} (${p.comm}) ${fields.join(' ')}\n`); fs.writeFileSync(path.join(dir, 'cmdline'), `${p.comm}\0`); }
let pid = 1000;
for (let t = 0; t < trees; t++) { const top = pid; w({ pid: pid++, ppid: 1, pgrp: top, comm: 'bash' }); const sh = pid; w({ pid: pid++, ppid: top, pgrp: top, comm: 'bash' }); for (let s = 0; s < 8; s++) w({ pid: pid++, ppid: sh, pgrp: top, comm: 'sleep' }); }
