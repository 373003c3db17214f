/** Build once before the suite: CLI tests run the real `bin/nodewarden.js` against fresh output. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export default function setup(): void {
  const tsc = path.join(process.cwd(), 'node_modules', '.bin', 'tsc');
  const r = spawnSync(tsc, ['-p', 'tsconfig.json'], { encoding: 'utf8', stdio: 'pipe' });
  if (r.status !== 0) throw new Error(`build failed before the tests:\n${r.stdout}${r.stderr}`);
}
