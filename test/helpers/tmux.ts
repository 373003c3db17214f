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

let servers = 0;

export class Tmux {
  readonly server = `nw-test-${process.pid}-${servers++}`;
  private readonly config: string;

  constructor() {
    // A dead pane stays, so that what the command printed last can be read.
    this.config = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nw-tmux-')), 'tmux.conf');
    fs.writeFileSync(this.config, 'set -g remain-on-exit on\nset -g status off\n');
  }

  private tmux(...args: string[]): string {
    const env = { ...process.env };
    delete env.TMUX; // a test run inside tmux still gets its own server
    const r = spawnSync('tmux', ['-L', this.server, '-f', this.config, ...args], { encoding: 'utf8', env, timeout: 10_000 });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
    return r.stdout;
  }

  start(argv: string[], size: { width: number; height: number }, env: Record<string, string> = {}): void {
    const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    // The exit status is printed by the shell: tmux 3.3 does not always reap a dead pane's process in time to report it.
    // The shell outlives a Ctrl-C sent to the command (a handler, not an ignore, so the command still gets SIGINT).
    const command = ['sh', '-c', 'trap : INT; "$@"; echo "[exited $?]"', 'sh', ...(vars.length > 0 ? ['env', ...vars] : []), ...argv];
    this.tmux('new-session', '-d', '-s', 'main', '-x', String(size.width), '-y', String(size.height), shellWords(command));
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

  /** Wait until the screen satisfies `check`; a timeout shows the last screen. */
  async waitForScreen(check: (screen: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = this.screen();
      if (check(last)) return last;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the screen was:\n${last}`);
  }

  kill(): void {
    spawnSync('tmux', ['-L', this.server, 'kill-server'], { timeout: 10_000 });
    fs.rmSync(path.dirname(this.config), { recursive: true, force: true });
  }
}
