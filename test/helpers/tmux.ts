/**
 * A real terminal for tests: a private tmux server (its own -L socket name)
 * running one command in a pane of a fixed size. The screen is read with
 * capture-pane, keys are sent with send-keys, and kill() ends the server and
 * with it the pane's processes (SIGHUP), even when the test failed.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { shellWords } from '../../src/cli/show.js';
import { killGroups } from './proc.js';

let servers = 0;

export class Tmux {
  readonly server = `nw-test-${process.pid}-${servers++}`;
  private readonly config: string;
  /** The pane's shell: the leader of the process group the command runs in. */
  private panePid: number | null = null;

  constructor() {
    // A dead pane stays, so that what the command printed last can be read (should the shell die).
    this.config = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nw-tmux-')), 'tmux.conf');
    fs.writeFileSync(this.config, 'set -g remain-on-exit on\nset -g status off\n');
  }

  private tmux(...args: string[]): string {
    const env = { ...process.env };
    delete env.TMUX; // a test run inside tmux still gets its own server
    // Colour as a terminal decides it, whatever the environment running the tests says.
    delete env.NO_COLOR;
    delete env.FORCE_COLOR;
    const r = spawnSync('tmux', ['-L', this.server, '-f', this.config, ...args], { encoding: 'utf8', env, timeout: 10_000 });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
    return r.stdout;
  }

  start(argv: string[], size: { width: number; height: number }, env: Record<string, string> = {}): void {
    const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    // The exit status is printed by the shell: tmux 3.3 does not always reap a dead pane's process in time to report it.
    // The shell outlives a Ctrl-C sent to the command (a handler, not an ignore, so the command still gets SIGINT),
    // and then waits, so that the pane stays alive as the command left it (a dead pane's cursor is tmux's own).
    // kill() ends the wait with the server and the pane's process group.
    const command = ['sh', '-c', 'trap : INT; "$@"; echo "[exited $?]"; exec sleep 600', 'sh', ...(vars.length > 0 ? ['env', ...vars] : []), ...argv];
    this.tmux('new-session', '-d', '-s', 'main', '-x', String(size.width), '-y', String(size.height), shellWords(command));
    this.panePid = Number(this.tmux('display-message', '-p', '-t', 'main', '#{pane_pid}').trim());
  }

  /** Whether the pane shows the alternate screen, and whether the cursor is visible. */
  terminalState(): { alternateScreen: boolean; cursorVisible: boolean } {
    const [alternate, cursor] = this.tmux('display-message', '-p', '-t', 'main', '#{alternate_on} #{cursor_flag}').trim().split(' ');
    return { alternateScreen: alternate === '1', cursorVisible: cursor === '1' };
  }

  /** The screen as text; with escapes: its colours and attributes too; with history: the lines scrolled off it as well. */
  screen(opts: { escapes?: boolean; history?: boolean } = {}): string {
    return this.tmux('capture-pane', '-p', ...(opts.escapes ? ['-e'] : []), ...(opts.history ? ['-S', '-'] : []), '-t', 'main');
  }

  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'main', ...keys);
  }

  resize(size: { width: number; height: number }): void {
    this.tmux('resize-window', '-t', 'main', '-x', String(size.width), '-y', String(size.height));
  }

  /** null while the command runs, its exit status once it has ended. */
  exitStatus(): number | null {
    const m = /\[exited (\d+)\]$/m.exec(this.screen({ history: true }));
    return m ? Number(m[1]) : null;
  }

  /** Wait for the command to end (after the keys, if any, are sent) and give its exit status. */
  async exited(...keys: string[]): Promise<number> {
    if (keys.length > 0) this.keys(...keys);
    // Generous, for a loaded machine: the wait ends as soon as the command does.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const status = this.exitStatus();
      if (status !== null) return status;
      if (Date.now() > deadline) throw new Error(`the command did not end within 30 s; the screen was:\n${this.screen()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Wait until the screen satisfies `check`; a timeout shows the last screen. */
  async waitForScreen(check: (screen: string) => boolean, what: string, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = this.screen();
      if (check(last)) return last;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the screen was:\n${last}`);
  }

  /** End the server, then make sure nothing of the pane's process group is left. */
  async kill(): Promise<void> {
    spawnSync('tmux', ['-L', this.server, 'kill-server'], { timeout: 10_000 });
    if (this.panePid !== null) await killGroups([this.panePid]);
    fs.rmSync(path.dirname(this.config), { recursive: true, force: true });
  }
}
