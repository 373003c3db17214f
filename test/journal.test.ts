/**
 * The journal and replay (SPEC §8) on real runs: the real daemon runs real
 * containers — one that succeeds, one that fails, one killed for memory, one
 * killed by the user, one relaunched, and two carried across a SIGKILL of
 * the daemon — then `nodewarden journal export` and `nodewarden replay
 * --check` must agree with every transition and kill. A journal edited in
 * its configuration or in one sample must diverge, naming the container.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../state-machines/exit-status.js';
import { DaemonDir } from './helpers/daemon-process.js';
import { waitForAsync } from './helpers/proc.js';

const BIN = path.join(process.cwd(), 'bin', 'nodewarden.js');
const HOG = path.join(process.cwd(), 'test', 'fixtures', 'hog.mjs');

function nw(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Rec = Record<string, unknown> & { seq: number; type: string };

function readJournal(file: string): { header: Record<string, unknown>; records: Rec[] } {
  const [header, ...records] = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  return { header, records };
}

function writeJournal(file: string, header: unknown, records: unknown[]): void {
  fs.writeFileSync(file, [header, ...records].map((r) => JSON.stringify(r)).join('\n') + '\n');
}

let d: DaemonDir;
let journal: string;

beforeAll(async () => {
  d = new DaemonDir();
  // pmem checked, vmem not (Node's own address space is far over any small limit).
  const set = { 'yarn.nodemanager.vmem-check-enabled': false };
  await d.start({ set });
  await d.launch('ok', ['true']);
  await d.launch('bad', ['sh', '-c', 'exit 3']);
  await d.launch('hog', [process.execPath, HOG, '200', 'ready'], { resources: { memoryMb: 16, vcores: 1 } });
  await d.launch('user', ['sleep', '600']);
  await d.launch('retry', ['sh', '-c', 'echo $$ >> runs; exit 5'], {
    retryPolicy: { policy: 'RETRY_ON_ALL_ERRORS', maxRetries: 1, retryIntervalMs: 50, errorCodes: [] },
  });
  await d.launch('calm', ['sleep', '600']);
  await d.launch('across', ['sh', '-c', 'while [ ! -e go ]; do sleep 0.02; done; exit 0']);
  expect((await d.until('ok', 'DONE')).exitCode).toBe(0);
  expect((await d.until('bad', 'DONE')).exitCode).toBe(3);
  // A Node start, 200 MB touched, two ticks and the kill's escalation: room for a loaded machine.
  expect((await d.until('hog', 'DONE', 30_000)).exitStatus).toBe(ExitStatus.KILLED_EXCEEDED_PMEM);
  await d.until('user', 'RUNNING');
  await d.current!.client.post('/v1/containers/user/kill', {});
  expect((await d.until('user', 'DONE')).exitStatus).toBe(ExitStatus.KILLED_BY_APPMASTER);
  expect((await d.until('retry', 'DONE')).exitCode).toBe(5);
  expect(d.runs('retry')).toBe(2);

  // A SIGKILL with two containers running: both are reacquired, one ends by itself, one is killed.
  await d.until('calm', 'RUNNING');
  await d.until('across', 'RUNNING');
  await d.crash();
  await d.start({ set });
  // calm is sampled again, long enough for its CPU to be known (what a kill needs).
  await waitForAsync(async () => (await d.view('calm')).usage !== null, 30_000, 'calm to be measured again');
  fs.writeFileSync(path.join(d.containerDir('across'), 'go'), '');
  expect((await d.until('across', 'DONE')).exitCode).toBe(0);
  await d.current!.client.post('/v1/containers/calm/kill', {});
  await d.until('calm', 'DONE');
  await d.stop();

  journal = path.join(d.dir, 'journal.ndjson');
  const exported = spawnSync(process.execPath, [BIN, 'journal', 'export', '--db', d.db], { encoding: 'utf8' });
  expect(exported.stderr).toBe('');
  expect(exported.status).toBe(0);
  fs.writeFileSync(journal, exported.stdout);
}, 120_000);

afterAll(async () => {
  await d?.cleanup();
});

describe('journal export', () => {
  it('writes the header with the configuration in force, then every record in seq order', () => {
    const { header, records } = readJournal(journal);
    expect(header).toMatchObject({ format: 'nodewarden-journal', version: 2, since: 0, samplesFrom: null });
    expect((header.config as Record<string, unknown>)['yarn.nodemanager.vmem-check-enabled']).toBe(false);
    const seqs = records.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const types = new Set(records.map((r) => r.type));
    for (const t of ['start', 'launch', 'event', 'monitor', 'tick', 'transition', 'kill']) expect(types, t).toContain(t);
    // Two daemon starts; the second restored the running containers and found their processes.
    const starts = records.filter((r) => r.type === 'start');
    expect(starts).toHaveLength(2);
    expect(Object.keys(starts[1]!.found as object).sort()).toEqual(['across', 'calm']);
    // The memory kill is recorded as the monitor's decision, before the transition it causes.
    const kill = records.find((r) => r.type === 'kill')!;
    expect(kill).toMatchObject({ container: 'hog', by: 'monitor', exitStatus: ExitStatus.KILLED_EXCEEDED_PMEM });
    expect(records.find((r) => r.seq === kill.seq + 1)).toMatchObject({ type: 'transition', container: 'hog', from: 'RUNNING', to: 'KILLING' });
  });

  it('--since: only the records after it', () => {
    const { records } = readJournal(journal);
    const mid = records[Math.floor(records.length / 2)]!.seq;
    const part = nw('journal', 'export', '--db', d.db, '--since', String(mid));
    expect(part.status).toBe(0);
    const lines = part.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ format: 'nodewarden-journal', since: mid });
    expect(lines.slice(1).map((r) => r.seq)).toEqual(records.filter((r) => r.seq > mid).map((r) => r.seq));
  });

  it('a missing database, or a bad --since, is a clear error', () => {
    const missing = nw('journal', 'export', '--db', path.join(d.dir, 'nope.sqlite'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^nodewarden: no database at .*nope\.sqlite/);
    expect(nw('journal', 'export', '--db', d.db, '--since', 'x').status).toBe(2);
    expect(nw('journal').status).toBe(2);
  });
});

describe('replay', () => {
  it('--check: every transition and kill of the real run is reproduced (exit 0)', () => {
    const r = nw('replay', journal, '--check');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^replay matches the journal: \d+ records, \d+ transitions and 1 kill, all identical\n$/);
  });

  it('--check --json: the verdict as JSON', () => {
    const r = nw('replay', journal, '--check', '--json');
    expect(r.status).toBe(0);
    const verdict = JSON.parse(r.stdout);
    expect(verdict).toMatchObject({ check: 'ok', kills: 1, skipped: 0, divergence: null });
    expect(verdict.from).toBe(readJournal(journal).records[0]!.seq);
  });

  it('a journal exported with --since is checked from the first daemon start in it; one with none cannot be checked', () => {
    const { records } = readJournal(journal);
    const [, second] = records.filter((r) => r.type === 'start');
    const part = path.join(d.dir, 'since.ndjson');
    fs.writeFileSync(part, nw('journal', 'export', '--db', d.db, '--since', String(second!.seq - 5)).stdout);
    const r = nw('replay', part, '--check');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`all identical \\(from the daemon start at seq ${second!.seq}; 4 earlier records not replayed\\)\\n$`));

    const none = path.join(d.dir, 'since-none.ndjson');
    fs.writeFileSync(none, nw('journal', 'export', '--db', d.db, '--since', String(second!.seq)).stdout);
    const n = nw('replay', none, '--check');
    expect(n.status).toBe(1);
    expect(n.stderr).toMatch(/has no daemon start or checkpoint to replay from, so nothing can be checked \(export it without --since\)\n$/);
  });

  it('prints the timeline: container, from → to, event, time; --json as NDJSON', () => {
    const r = nw('replay', journal);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} {2}#\d+ {2}ok {2}NEW → SCHEDULED {2}INIT_CONTAINER$/m);
    expect(r.stdout).toMatch(/ {2}hog {2}killed by the monitor \(exit status -104\): Container \[pid=\d+,containerID=hog\] is running \d+B beyond the 'PHYSICAL' memory limit/);
    expect(r.stdout).toMatch(/ {2}retry {2}RELAUNCHING → RUNNING {2}CONTAINER_LAUNCHED$/m);
    const json = nw('replay', journal, '--json').stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    const { records } = readJournal(journal);
    expect(json).toEqual(records.filter((r) => r.type === 'transition' || r.type === 'kill'));
  });

  it('a changed configuration in the header diverges: exit 1, naming the container and the seq', () => {
    const { header, records } = readJournal(journal);
    const edited = path.join(d.dir, 'no-pmem.ndjson');
    writeJournal(edited, { ...header, config: { ...(header.config as object), 'yarn.nodemanager.pmem-check-enabled': false } }, records);
    const r = nw('replay', edited, '--check');
    expect(r.status).toBe(1);
    const kill = records.find((x) => x.type === 'kill')!;
    expect(r.stderr).toContain(`replay diverged at seq ${kill.seq}, container hog:`);
    expect(r.stderr).toMatch(/expected: killed by the monitor \(exit status -104\)/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it('an edited sample diverges: a calm container made to look huge is killed in replay', () => {
    const { header, records } = readJournal(journal);
    // calm's last tick before the user's kill (its CPU known by then), its wrapper's rss made 4 GiB.
    const userKill = records.find((r) => r.type === 'event' && r.container === 'calm' && (r.event as { type: string }).type === 'KILL_CONTAINER')!;
    const ticks = records.filter((r) => r.type === 'tick' && r.seq < userKill.seq && ((r.samples as Record<string, unknown[]>).calm?.length ?? 0) > 0);
    const tick = ticks.at(-1)!;
    ((tick.samples as Record<string, number[][]>).calm![0]!)[11] = 1 << 20;
    const edited = path.join(d.dir, 'huge-sample.ndjson');
    writeJournal(edited, header, records);
    const r = nw('replay', edited, '--check');
    expect(r.status).toBe(1);
    // The first record after the tick that differs: replay's kill of calm (the journal may have another container's record there).
    expect(r.stderr).toMatch(new RegExp(`^replay diverged at seq \\d+, container calm:\n {2}expected: .*\n {2}got: {6}(calm: )?killed by the monitor \\(exit status -104\\): Container \\[pid=\\d+,containerID=calm\\]`));
    const seq = Number(/at seq (\d+)/.exec(r.stderr)![1]);
    expect(seq).toBeGreaterThan(tick.seq);
  });

  it('a corrupt line, an unknown version, a missing file: one clear line, exit 1', () => {
    const text = fs.readFileSync(journal, 'utf8').split('\n');
    const corrupt = path.join(d.dir, 'corrupt.ndjson');
    fs.writeFileSync(corrupt, [...text.slice(0, 5), text[5]!.slice(0, 20), ...text.slice(6)].join('\n'));
    let r = nw('replay', corrupt, '--check');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^nodewarden: .*corrupt\.ndjson line 6: not valid JSON .*the journal is corrupt or truncated\n$/);

    const version = path.join(d.dir, 'v3.ndjson');
    fs.writeFileSync(version, [JSON.stringify({ ...JSON.parse(text[0]!), version: 3 }), ...text.slice(1)].join('\n'));
    r = nw('replay', version);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^nodewarden: .*v3\.ndjson line 1: journal version 3 is not supported: this nodewarden reads versions 1 and 2\n$/);

    r = nw('replay', path.join(d.dir, 'missing.ndjson'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^nodewarden: cannot read .*missing\.ndjson: no such file\n$/);

    const wrongShape = path.join(d.dir, 'shape.ndjson');
    fs.writeFileSync(wrongShape, `${text[0]}\n{"seq":1,"ts":5,"type":"tick","samples":{"c":[[1,2]]}}\n`);
    r = nw('replay', wrongShape);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/line 2: a tick record with a bad samples\.c: expected a list of processes/);

    // An event the machine could not digest never reaches it.
    fs.writeFileSync(wrongShape, `${text[0]}\n{"seq":1,"ts":5,"type":"event","container":"c","event":{"type":"UPDATE_DIAGNOSTICS_MSG","ts":5}}\n`);
    r = nw('replay', wrongShape);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/line 2: an event record with a bad event\.message: expected a string\n$/);

    expect(nw('replay').status).toBe(2);
  }, 60_000); // six CLI runs, one after the other: a loaded machine takes seconds for each
});
