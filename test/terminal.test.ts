/**
 * The CLI in a real terminal: tmux runs `nodewarden top` and `nodewarden
 * events --follow` against a real daemon with real containers; the screen is
 * read with capture-pane and driven with send-keys. For top: the rows, the
 * sorts, the state filter, a kill through the keys, a terminal too small and
 * then resized, and no terminal at all. For events: readable, coloured lines
 * as transitions and a memory kill happen.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiDaemon, type ApiTestDaemon } from './helpers/daemon.js';
import { waitFor } from './helpers/proc.js';
import { Tmux } from './helpers/tmux.js';

const BIN = path.join(process.cwd(), 'bin', 'nodewarden.js');
if (spawnSync('tmux', ['-V']).status !== 0) throw new Error('the top tests need tmux: apt-get install tmux (.ci/run installs it)');

let d: ApiTestDaemon;
const hold = (mb: number) => ['node', '-e', `globalThis.b = Buffer.alloc(${mb} * 2 ** 20, 1); setInterval(() => {}, 1e9)`];

/** The table rows on screen: the id of each, in order, and which one is selected (▶). */
function tableRows(screen: string): Array<{ id: string; state: string; selected: boolean; line: string }> {
  const lines = screen.split('\n');
  const header = lines.findIndex((l) => /^\s+ID\s+STATE\s+PID\s+MEMORY/.test(l));
  if (header === -1) return [];
  return lines
    .slice(header + 1)
    .filter((l) => /^[▶ ] \S/.test(l))
    .map((line) => {
      const [, id, state] = /^[▶ ] (\S+)\s+(\S+)/.exec(line)!;
      return { id: id!, state: state!, selected: line.startsWith('▶'), line };
    });
}
const ids = (screen: string) => tableRows(screen).map((r) => r.id);

beforeAll(async () => {
  d = await startApiDaemon({ 'yarn.nodemanager.container-monitor.interval-ms': 200, 'yarn.nodemanager.vmem-check-enabled': false });
  // Launched in an order that is neither the memory order nor the id order.
  const launch = (id: string, command: string[]) => d.node.launch({ id, command, resources: { memoryMb: 512, vcores: 1 } });
  // Each a millisecond apart at least, so that the age order is the launch order.
  for (const [id, command] of [['bravo', ['sleep', '600']], ['charlie', hold(10)], ['alpha', hold(80)]] as const) {
    const { view } = await launch(id, [...command]);
    await waitFor(() => Date.now() > view.createdAt, 1000, 'the next millisecond');
  }
  for (const id of ['alpha', 'bravo', 'charlie']) await d.until(id, 'RUNNING');
  // Each has been measured, and their memory is in the order the test expects.
  await waitFor(() => {
    const pmem = (id: string) => d.node.view(id).usage?.pmemBytes ?? -1;
    return pmem('bravo') > 0 && pmem('charlie') > pmem('bravo') && pmem('alpha') > pmem('charlie') + 50 * 2 ** 20;
  }, 30_000, 'every container measured');
}, 90_000); // three containers (two of them Node processes) started and measured

afterAll(async () => {
  await d?.stop();
});

describe('nodewarden top in a terminal', () => {
  it('shows every container with its memory, sorts by the keys, filters by state, and kills the selected one after a confirmation', async () => {
    const term = new Tmux();
    try {
      term.start([process.execPath, BIN, 'top', '--socket', d.socket], { width: 120, height: 24 });
      let screen = await term.waitForScreen((s) => ids(s).length === 3, 'three rows');

      // The header: node capacity, allocated and used; the keys; the columns.
      expect(screen).toMatch(/^nodewarden top · .*nodewarden\.sock · every 0\.2s/m);
      expect(screen).toMatch(/^memory {2}capacity 8 GB · allocated 1\.6 GB · used \d/m);
      expect(screen).toMatch(/^vcores {2}capacity 8 · allocated 3\.3 · used/m);
      expect(screen).toMatch(/^containers {2}3: 3 RUNNING · rows 1–3 of 3/m);
      expect(screen).toMatch(/ID\s+STATE\s+PID\s+MEMORY pmem\/limit\s+VMEM\s+CPU%\s+AGE LAST MINUTE/);

      // Memory first, biggest on top, the first row selected; each row has its pid, a bar, pmem/limit and a sparkline.
      expect(ids(screen)).toEqual(['alpha', 'charlie', 'bravo']);
      const rows = tableRows(screen);
      expect(rows[0]!.selected).toBe(true);
      expect(rows.every((r) => r.state === 'RUNNING')).toBe(true);
      const alpha = rows[0]!.line;
      expect(alpha).toContain(` ${d.node.view('alpha').pid} `);
      expect(alpha).toMatch(/ [█▏▎▍▌▋▊▉]+ +\d+(\.\d)? MB\/544 MB /);
      expect(alpha).toMatch(/[▁▂▃▄▅▆▇█]+$/);

      term.keys('i');
      screen = await term.waitForScreen((s) => ids(s).join() === 'alpha,bravo,charlie', 'the id order');
      expect(screen).toContain('sort id');
      term.keys('a');
      await term.waitForScreen((s) => ids(s).join() === 'bravo,charlie,alpha', 'the age order (oldest first)');
      term.keys('c');
      await term.waitForScreen((s) => s.includes('sort cpu'), 'the cpu sort');
      term.keys('m');
      await term.waitForScreen((s) => ids(s).join() === 'alpha,charlie,bravo' && s.includes('sort memory'), 'the memory order again');

      // Select bravo (the last row) and ask to kill it: a confirmation, and n cancels it.
      term.keys('Down', 'Down');
      screen = await term.waitForScreen((s) => tableRows(s).find((r) => r.selected)?.id === 'bravo', 'bravo selected');
      term.keys('k');
      screen = await term.waitForScreen((s) => s.includes('Kill bravo'), 'the confirmation');
      expect(screen).toContain(`Kill bravo (pid ${d.node.view('bravo').pid}, RUNNING)? y to kill, any other key to cancel`);
      term.keys('n');
      await term.waitForScreen((s) => s.includes('kill of bravo cancelled'), 'the cancellation');
      expect(d.node.view('bravo').state).toBe('RUNNING');

      // k then y kills it: the daemon takes KILL_CONTAINER (-105) and the row follows it to DONE.
      term.keys('k');
      await term.waitForScreen((s) => s.includes('Kill bravo'), 'the confirmation again');
      term.keys('y');
      await d.until('bravo', 'DONE');
      expect(d.node.view('bravo').exitStatus).toBe(-105);
      screen = await term.waitForScreen((s) => tableRows(s).find((r) => r.id === 'bravo')?.state === 'DONE', 'bravo DONE on screen');
      expect(screen).toMatch(/kill requested: bravo is (KILLING|CONTAINER_CLEANEDUP_AFTER_KILL|DONE)/);
      expect(['alpha', 'charlie'].map((id) => d.node.view(id).state)).toEqual(['RUNNING', 'RUNNING']);

      // f cycles the state filter through the states present: RUNNING leaves bravo out, then DONE shows only it.
      term.keys('f');
      screen = await term.waitForScreen((s) => s.includes('filter RUNNING'), 'the RUNNING filter');
      expect(ids(screen).sort()).toEqual(['alpha', 'charlie']);
      term.keys('f');
      screen = await term.waitForScreen((s) => s.includes('filter DONE'), 'the DONE filter');
      expect(ids(screen)).toEqual(['bravo']);

      // Colour on a terminal: states are coloured, the selected row inverted.
      const escapes = term.screen({ escapes: true });
      expect(escapes).toMatch(/\x1b\[(0;)?7m/);
      expect(await term.exited('q')).toBe(0);
      // The terminal is given back: the shell's screen, the cursor shown.
      expect(term.terminalState()).toEqual({ alternateScreen: false, cursorVisible: true });
    } finally {
      await term.kill();
    }
  }, 120_000); // a dozen screens waited for in turn, each up to 15 s

  it('a terminal too small gets a clear message, and the view once it is resized; --state, --sort and --interval set the start', async () => {
    const term = new Tmux();
    try {
      term.start([process.execPath, BIN, 'top', '--socket', d.socket, '--state', 'RUNNING', '--sort', 'id', '--interval', '300'], { width: 60, height: 8 });
      let screen = await term.waitForScreen((s) => s.includes('needs a terminal'), 'the too-small message');
      expect(screen).toContain('nodewarden top needs a terminal of at least 80×10;');
      expect(screen).toContain('this one is 60×8.');
      expect(term.terminalState()).toEqual({ alternateScreen: true, cursorVisible: false });
      // Keys other than q and Ctrl-C do nothing here: nothing can be seen to act on.
      term.keys('k', 'y');
      term.resize({ width: 100, height: 20 });
      screen = await term.waitForScreen((s) => ids(s).length > 0, 'the rows after the resize');
      // The RUNNING containers by id (the test before killed bravo: the filter leaves it out).
      expect(ids(screen)).toEqual(d.node.list().filter((v) => v.state === 'RUNNING').map((v) => v.id).sort());
      expect(screen).toMatch(/every 0\.3s/);
      expect(screen).toContain('sort id');
      expect(screen).toContain('filter RUNNING');
      expect(screen).not.toMatch(/Kill |kill|killing/);
      expect(d.node.view('alpha').state).toBe('RUNNING');
      expect(await term.exited('C-c')).toBe(0);
      expect(term.terminalState()).toEqual({ alternateScreen: false, cursorVisible: true });
    } finally {
      await term.kill();
    }
  });

  it('no daemon on the socket: the usual message and exit 1, before the screen is taken', async () => {
    const term = new Tmux();
    try {
      term.start([process.execPath, BIN, 'top', '--socket', path.join(d.dir, 'no-such.sock')], { width: 100, height: 20 });
      expect(await term.exited()).toBe(1);
      expect(term.terminalState().alternateScreen).toBe(false);
      expect(term.screen({ history: true })).toContain(`nodewarden: cannot reach nodewarden at ${path.join(d.dir, 'no-such.sock')}`);
    } finally {
      await term.kill();
    }
  });
});

describe('nodewarden top without a terminal', () => {
  it('says it needs one (exit 1); a bad option is a usage error (exit 2)', () => {
    const piped = spawnSync(process.execPath, [BIN, 'top', '--socket', d.socket], { encoding: 'utf8', timeout: 30_000 });
    expect(piped.status).toBe(1);
    expect(piped.stderr).toContain('nodewarden: top needs a terminal');
    expect(piped.stderr).toContain('nodewarden ps --json');
    const usage = spawnSync(process.execPath, [BIN, 'top', '--sort', 'size'], { encoding: 'utf8', timeout: 30_000 });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--sort must be one of memory, cpu, age, id');
  });
});

describe('nodewarden events --follow in a terminal', () => {
  it('prints one readable, coloured line per transition and kill as they happen, a memory kill included', async () => {
    const term = new Tmux();
    try {
      term.start([process.execPath, BIN, 'events', '--follow', '--socket', d.socket], { width: 250, height: 50 });
      await term.waitForScreen((s) => s.includes('alpha'), 'the transitions so far');
      // 32 MB asked (64 MB with the allowance); it holds 100 MB: the monitor kills it with -104.
      await d.node.launch({ id: 'hungry', command: hold(100), resources: { memoryMb: 32, vcores: 1 } });
      await d.until('hungry', 'DONE', 30_000);
      // The view keeps the usage the killing tick recorded (YARN records usage before checking the limit).
      const killed = d.node.view('hungry');
      expect(killed.usage!.pmemBytes).toBeGreaterThan(killed.limits.pmemBytes);
      const screen = await term.waitForScreen((s) => /hungry {2}CONTAINER_CLEANEDUP_AFTER_KILL → DONE/.test(s), 'the kill followed to DONE');
      const lines = screen.split('\n').filter((l) => l.includes(' hungry '));
      const stamp = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} {2}#\d+ {2}hungry {2}/;
      expect(lines.map((l) => l.replace(stamp, ''))).toEqual([
        'NEW → SCHEDULED  INIT_CONTAINER',
        'SCHEDULED → RUNNING  CONTAINER_LAUNCHED',
        expect.stringMatching(/^killed by the monitor \(exit status -104\): Container \[pid=\d+,containerID=hungry\] is running \d+B beyond the 'PHYSICAL' memory limit\. Current usage: [\d.]+ MB of 64 MB physical memory used; /),
        'RUNNING → KILLING  KILL_CONTAINER (exit status -104)',
        expect.stringMatching(/^KILLING → CONTAINER_CLEANEDUP_AFTER_KILL  CONTAINER_KILLED_ON_REQUEST \(exit code 1(37|43)\)$/),
        'CONTAINER_CLEANEDUP_AFTER_KILL → DONE  CONTAINER_RESOURCES_CLEANEDUP',
      ]);
      // On a terminal the states are coloured (RUNNING green, KILLING red) and the kill is bold red.
      const escapes = term.screen({ escapes: true });
      expect(escapes).toMatch(/\x1b\[32mRUNNING/);
      expect(escapes).toMatch(/\x1b\[31mKILLING/);
      expect(escapes).toMatch(/\x1b\[1m\x1b\[31mkilled by the monitor/);
      expect(await term.exited('C-c')).toBe(0);
    } finally {
      await term.kill();
    }
  }, 90_000);
});
