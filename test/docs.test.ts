/**
 * The documentation is part of the product: the reference names every route
 * the daemon serves, every CLI command and every configuration key with its
 * default; the README's walkthrough runs as written, to a memory kill and its
 * replay; the example launcher and the systemd unit's command line work.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS } from '../src/config/keys.js';
import { startApiDaemon } from './helpers/daemon.js';
import { asSetArgs, cleanupHierarchy, containmentSettings, testHierarchy } from './helpers/cgroups.js';
import { killGroups, waitFor } from './helpers/proc.js';

const ROOT = process.cwd();
const BIN = path.join(ROOT, 'bin', 'nodewarden.js');
const reference = fs.readFileSync(path.join(ROOT, 'docs', 'reference.md'), 'utf8');
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** SIGTERM, then SIGKILL if it has not stopped within 20 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  const stopped = () => child.exitCode !== null || child.signalCode !== null;
  child.kill('SIGTERM');
  try {
    await waitFor(stopped, 20_000, 'the daemon to stop');
  } finally {
    if (!stopped()) child.kill('SIGKILL');
  }
}

/** The fenced ```sh blocks of a Markdown section (from its heading to the next heading of the same level). */
function shellBlocks(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`no section ${heading}`);
  const level = heading.split(' ')[0]!;
  const end = markdown.indexOf(`\n${level} `, start + heading.length + 2);
  const section = markdown.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
}

describe('docs/reference.md', () => {
  it('has a section for every route the daemon serves, and names no route it does not', async () => {
    const d = await startApiDaemon();
    try {
      const served = new Set(d.daemon.server.routes);
      expect(served.size).toBeGreaterThanOrEqual(15);
      const documented = new Set([...reference.matchAll(/^### (GET|POST) (\/\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`));
      // /monitor/statistics.json is the same route under its Mesos alias, documented with it.
      expect(reference).toContain('Also `GET /monitor/statistics.json`');
      served.delete('GET /monitor/statistics.json');
      expect([...documented].sort()).toEqual([...served].sort());
    } finally {
      await d.stop();
    }
  });

  it('has a section for every CLI command, and names every option', () => {
    const usage = spawnSync(process.execPath, [BIN, 'help'], { encoding: 'utf8' }).stdout;
    const options = new Set([...usage.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]));
    expect(options.size).toBeGreaterThan(15);
    for (const option of options) expect(reference, option).toContain(option);
    const commands = new Set([...usage.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!));
    expect([...commands]).toEqual(expect.arrayContaining(['start', 'launch', 'kill', 'ps', 'show', 'stats', 'events', 'top', 'journal', 'replay']));
    for (const command of commands) {
      const heading = command === 'kill' ? 'kill, pause, resume' : command === 'journal' ? 'journal export' : command;
      expect(reference, `a section for ${command}`).toContain(`\n### ${heading}\n`);
    }
  });

  it('lists every configuration key with its default', () => {
    for (const key of KEYS) {
      const row = reference.split('\n').find((l) => l.startsWith(`| \`${key.name}\` |`));
      expect(row, key.name).toBeDefined();
      const shown = row!.split(' | ')[1]!;
      if (key.default === undefined) expect(shown, key.name).toMatch(/interval/);
      else expect(shown, key.name).toBe(`\`${String(key.default)}\``);
    }
    expect(reference.split('\n').filter((l) => /^\| `(yarn|nodewarden)\./.test(l))).toHaveLength(KEYS.length);
  });
});

describe('the README walkthrough, as written', () => {
  // Made in beforeAll, not at collection: a run that filters this test out must not leave it behind.
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-walkthrough-'));
  });
  let daemon: ChildProcess | undefined;
  const pids = new Set<number>();
  const hierarchy = testHierarchy();

  afterAll(async () => {
    try {
      // The hungry container outlives the daemon (supervised): find its group, also when the test failed before it did.
      if (daemon && daemon.exitCode === null) {
        const view = run('npx nodewarden show hungry --json');
        if (view.status === 0) {
          const pid = (JSON.parse(view.stdout) as { pid: number | null }).pid;
          if (pid) pids.add(pid);
        }
      }
      if (daemon) await stopChild(daemon);
    } finally {
      await cleanupHierarchy(hierarchy);
      await killGroups(pids);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  /** A README line run by bash in the walkthrough's directory, `npx nodewarden` being this checkout's CLI. */
  const run = (line: string) => spawnSync('bash', ['-c', line.replaceAll('npx nodewarden', `node ${JSON.stringify(BIN)}`)], { cwd: dir, encoding: 'utf8', timeout: 60_000 });

  it('launches the hungry container, which the monitor kills for its physical memory; show, events and replay explain it', async () => {
    const blocks = shellBlocks(readme, '## Walkthrough: a memory kill, explained');
    expect(blocks[0]).toBe('npm install');
    expect(blocks[1]).toBe('npm start');
    // `npm start` is `nodewarden start` with the defaults, run in the walkthrough's directory; only the tick is shorter here.
    // And its cgroup hierarchy is its own, apart from other tests' daemons.
    daemon = spawn(process.execPath, [BIN, 'start', '--set', 'yarn.nodemanager.container-monitor.interval-ms=500', ...asSetArgs(containmentSettings(hierarchy))], {
      cwd: dir,
      stdio: 'ignore',
    });
    await waitFor(() => fs.existsSync(path.join(dir, 'var', 'nodewarden.sock')), 20_000, 'the daemon to listen');

    const [launch, top, show, events, replay] = blocks.slice(2);
    expect(top).toBe('npx nodewarden top'); // interactive: tested in a real terminal by test/terminal.test.ts
    const launched = run(launch!);
    expect(launched.stderr).toBe('');
    expect(launched.stdout).toBe('hungry\n');
    await waitFor(() => {
      const view = JSON.parse(run('npx nodewarden show hungry --json').stdout);
      if (view.pid) pids.add(view.pid);
      return view.state === 'DONE';
    }, 90_000, 'the hungry container to be killed');

    const story = run(show!);
    expect(story.status).toBe(0);
    expect(story.stdout).toMatch(/^exit status: +-104$/m);
    expect(story.stdout).toMatch(/^limits: +pmem 160 MB, vmem 336 MB, cpus 1\.1$/m);
    expect(story.stdout).toMatch(/Container \[pid=\d+,containerID=hungry\] is running \d+B beyond the 'PHYSICAL' memory limit\. Current usage: [\d.]+ MB of 160 MB physical memory used;/);
    expect(story.stdout).toMatch(/^\s+\|- \d+ \d+ \d+ \d+ \(tail\) /m);

    const lines = run(events!).stdout;
    expect(lines).toMatch(/ hungry {2}killed by the monitor \(exit status -104\)/);
    expect(lines).toMatch(/ hungry {2}RUNNING → KILLING {2}KILL_CONTAINER \(exit status -104\)/);

    const replayed = run(replay!);
    expect(replayed.status).toBe(0);
    expect(replayed.stdout).toMatch(/^replay matches the journal: \d+ records, \d+ transitions and 1 kill, all identical$/m);
  }, 180_000); // the command grows 10 MB a second to pass 160 MB: 16 s at the least, more on a loaded machine, then CLI runs
});

/** node ARGV, without blocking this process; resolves once it has exited. */
function runNode(argv: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    }),
  );
}

describe('the examples', () => {
  it('examples/launcher.mjs launches, follows the transitions to DONE, and exits with the container\'s exit code', async () => {
    const d = await startApiDaemon({ 'yarn.nodemanager.container-monitor.interval-ms': 100 });
    try {
      // Asynchronous: the daemon answering it runs in this process.
      const launcher = (...argv: string[]) => runNode([path.join(ROOT, 'examples', 'launcher.mjs'), '--socket', d.socket, ...argv]);
      const ok = await launcher();
      expect(ok.status).toBe(0);
      expect(ok.stdout).toMatch(/^launched (container_\S+): sh -c echo hello from a container\n {2}NEW → SCHEDULED \(INIT_CONTAINER\)\n {2}SCHEDULED → RUNNING \(CONTAINER_LAUNCHED\)\n {2}RUNNING → EXITED_WITH_SUCCESS \(CONTAINER_EXITED_WITH_SUCCESS\)\n {2}EXITED_WITH_SUCCESS → DONE \(CONTAINER_RESOURCES_CLEANEDUP\)\ncontainer_\S+ finished: exit status 0, exit code 0\n$/);
      const failed = await launcher('--', 'sh', '-c', 'echo oops >&2; exit 4');
      expect(failed.status).toBe(4);
      expect(failed.stdout).toContain('finished: exit status 4, exit code 4\nstderr ends with:\noops\n');
      const unreachable = await runNode([path.join(ROOT, 'examples', 'launcher.mjs'), '--socket', path.join(d.dir, 'none.sock')]);
      expect(unreachable.status).toBe(1);
      expect(unreachable.stderr).toContain('launcher: cannot reach nodewarden at');
    } finally {
      await d.stop();
    }
  }, 90_000); // three Node processes, two of them with a container each

  it('examples/nodewarden.service keeps containers alive across restarts (KillMode=process), and its command line starts the daemon', async () => {
    const unit = fs.readFileSync(path.join(ROOT, 'examples', 'nodewarden.service'), 'utf8');
    expect(unit).toMatch(/^KillMode=process$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    // ExecStart with its continuation lines, the install paths moved into a temp dir.
    const execStart = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(unit)![1]!.replace(/\\\n\s*/g, '');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-unit-'));
    fs.mkdirSync(path.join(dir, 'etc'));
    fs.writeFileSync(path.join(dir, 'etc', 'nodewarden.json'), '{}');
    fs.mkdirSync(path.join(dir, 'run'), { mode: 0o750 });
    const argv = execStart
      .split(/\s+/)
      .map((a) => a.replace('/usr/bin/node', process.execPath).replace('/opt/nodewarden/bin/nodewarden.js', BIN).replace('/etc/nodewarden', path.join(dir, 'etc')).replace('/run/nodewarden', path.join(dir, 'run')).replace('/var/lib/nodewarden', path.join(dir, 'lib')));
    // The cgroup hierarchy the test's own: not one that other tests' daemons (or a real one) use.
    const hierarchy = testHierarchy();
    const child = spawn(argv[0]!, [...argv.slice(1), ...asSetArgs(containmentSettings(hierarchy))], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await waitFor(() => out.includes('listening on') || child.exitCode !== null, 20_000, 'the daemon to listen');
      expect(out).toContain(`listening on ${path.join(dir, 'run', 'nodewarden.sock')}`);
      // Not a terminal, as under systemd: JSON lines for the journal.
      expect(JSON.parse(out.split('\n')[0]!)).toMatchObject({ name: 'nodewarden', msg: 'nodewarden started' });
    } finally {
      try {
        await stopChild(child);
      } finally {
        await cleanupHierarchy(hierarchy);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }, 90_000); // a daemon start (up to 20 s) and its stop (up to 20 s)
});
