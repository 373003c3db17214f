/** The `nodewarden` command as a user runs it: the built bin, real processes, exit codes. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asSetArgs, cleanupHierarchy, containmentSettings, testHierarchy } from './helpers/cgroups.js';
import { waitFor } from './helpers/proc.js';

const BIN = path.join(process.cwd(), 'bin', 'nodewarden.js');
let dir: string;
/** This test's daemons' cgroup hierarchy (where cgroups are in force), apart from other tests' daemons. */
let hierarchy: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-cli-'));
  hierarchy = testHierarchy();
});
afterEach(async () => {
  await cleanupHierarchy(hierarchy);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `start` gets the test's own hierarchy; every other command runs as given. */
const withHierarchy = (args: string[]) => (args[0] === 'start' ? [...args, ...asSetArgs(containmentSettings(hierarchy))] : args);
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...withHierarchy(args)], { encoding: 'utf8', cwd: dir, timeout: 30_000 });

describe('nodewarden CLI', () => {
  it('start runs the daemon in the foreground and stops cleanly on SIGTERM', async () => {
    const db = path.join(dir, 'db', 'nw.sqlite');
    const child = spawn(process.execPath, [BIN, ...withHierarchy(['start', '--db', db, '--work-dir', path.join(dir, 'var')])], { cwd: dir });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    // 'close', not 'exit': the last log line ('nodewarden stopped') may still be in the pipe at 'exit'.
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      // The whole line (up to its newline), not a piece of it.
      await waitFor(() => /nodewarden started.*\n/.test(out), 20_000, 'the start log line');
      const line = JSON.parse(out.split('\n').find((l) => l.includes('nodewarden started'))!);
      expect(line).toMatchObject({ name: 'nodewarden', db });
      expect(fs.existsSync(db)).toBe(true);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain('nodewarden stopped');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('logs: JSON lines into a pipe, readable lines with --pretty, and --log-level sets how much', async () => {
    const startAndStop = async (...args: string[]) => {
      const child = spawn(process.execPath, [BIN, ...withHierarchy(['start', '--db', path.join(dir, 'db', 'nw.sqlite'), '--work-dir', path.join(dir, 'var'), ...args])], { cwd: dir, env: { ...process.env, NO_COLOR: '1' } });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      // 'close', not 'exit': the output is returned once the process has ended, and 'exit' can come before the last of it.
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      try {
        // Not the log: at warn there is none. The socket (var/ under the cwd) says it serves.
        await waitFor(() => fs.existsSync(path.join(dir, 'var', 'nodewarden.sock')), 20_000, 'the daemon to listen');
        expect(run('ps').status).toBe(0); // a request: logged at debug
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
        return out;
      } finally {
        child.kill('SIGKILL');
      }
    };
    const pretty = await startAndStop('--pretty');
    expect(pretty).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: nodewarden started \{"db":/m);
    expect(pretty).toMatch(/^\[[^\]]+\] INFO: listening on /m);
    expect(pretty).not.toMatch(/^\{/m);
    const json = await startAndStop('--no-pretty', '--log-level', 'warn');
    // Nothing at info and below. (A warning may be there: where root lacks CAP_SYS_RESOURCE, the daemon
    // says it could not lower its oom_score_adj.)
    const levels = json.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { level: number }).level);
    expect(levels.filter((level) => level < 40)).toEqual([]);
    expect(json).not.toContain('nodewarden started');
    const debug = (await startAndStop('--log-level', 'debug')).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(debug.find((l) => l.level === 20)).toMatchObject({ msg: 'request completed', method: 'GET', url: '/v1/containers' });
    expect(run('start', '--pretty', '--no-pretty').status).toBe(2);
  }, 90_000); // three daemons started and stopped, a CLI run each

  it('the logger is readable on a terminal by default and JSON elsewhere', async () => {
    const { createLogger } = await import('../src/cli/logger.js');
    const write = (isTTY: boolean) => {
      const file = path.join(dir, `log-${isTTY}`);
      const fd = fs.openSync(file, 'w');
      try {
        createLogger({ level: 'info' }, { fd, isTTY }).info({ container: 'web' }, 'hello');
      } finally {
        fs.closeSync(fd);
      }
      return fs.readFileSync(file, 'utf8').replace(/\x1b\[\d+m/g, '');
    };
    expect(write(true)).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: hello \{"container":"web"\}\n$/);
    expect(JSON.parse(write(false))).toMatchObject({ level: 30, name: 'nodewarden', container: 'web', msg: 'hello' });
  });

  it('a bad configuration value stops start with exit 1 and a message naming the key', () => {
    const r = run('start', '--db', path.join(dir, 'x.sqlite'), '--set', 'yarn.nodemanager.vmem-pmem-ratio=0.5');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('yarn.nodemanager.vmem-pmem-ratio');
    expect(r.stderr).not.toContain('    at ');
    expect(fs.existsSync(path.join(dir, 'x.sqlite'))).toBe(false);
  });

  it('a missing config file is a clear error', () => {
    const r = run('start', '--config', path.join(dir, 'nope.json'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('nope.json');
  });

  it('a corrupt database is refused and left untouched', () => {
    const db = path.join(dir, 'corrupt.sqlite');
    fs.writeFileSync(db, 'this is not a database, it is a text file pretending to be one'.repeat(100));
    const before = fs.readFileSync(db);
    const r = run('start', '--db', db, '--work-dir', path.join(dir, 'var'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unreadable or corrupt');
    expect(fs.readFileSync(db).equals(before)).toBe(true);
  });

  it('an unknown --log-level is a usage error, not a stack trace', () => {
    const r = run('start', '--log-level', 'loud', '--db', path.join(dir, 'x.sqlite'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--log-level must be one of');
    expect(r.stderr).not.toContain('    at ');
  });

  it('unknown commands and options are usage errors (exit 2)', () => {
    expect(run('frobnicate').status).toBe(2);
    const r = run('start', '--no-such-flag');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown option --no-such-flag');
  });
});
