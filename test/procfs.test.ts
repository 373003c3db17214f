/**
 * The process-tree library of SPEC §9 against a fake procfs, number by number:
 * the stat parse, the tree and its orphans, ages and "older than" sums, smaps,
 * the CPU tracker, the dump, long2String and the limits.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isProcessTreeOverLimit, long2String, memoryLimits, milliVcoresUsed, parseStatLine, ProcfsProcessTree } from '../src/index.js';
import { ProcfsReader } from '../src/procfs/procfs-reader.js';
import { anonymousKb } from '../src/procfs/smaps.js';
import { parseStatBytes } from '../src/procfs/stat-line.js';
import type { ProcessStat } from '../state-machines/process-tree.js';
import { FakeProcfs, smapsMapping, statLine } from './helpers/fake-procfs.js';

const PAGE = 4096;

describe('parseStatLine', () => {
  it('reads the fields YARN reads, in their units', () => {
    const s = parseStatLine(42, statLine({ pid: 42, comm: 'java', ppid: 7, pgrp: 40, session: 30, utime: 123, stime: 45, numThreads: 9, startTime: 777, vsize: 2_000_000, rssPages: 300 }));
    expect(s).toEqual({ pid: 42, comm: 'java', state: 'S', ppid: 7, pgrp: 40, session: 30, utime: 123, stime: 45, numThreads: 9, startTime: 777, vsize: 2_000_000, rssPages: 300 });
  });

  it('takes the name to the LAST parenthesis: spaces and parentheses in names', () => {
    for (const comm of ['process two', 'proc(3)', 'a) b (c', ')', '(', '']) {
      const s = parseStatLine(5, statLine({ pid: 5, comm, ppid: 1, utime: 1, stime: 2, vsize: 3, rssPages: 4 }));
      expect(s?.comm).toBe(comm);
      expect([s?.utime, s?.stime, s?.vsize, s?.rssPages]).toEqual([1, 2, 3, 4]);
    }
  });

  it('drops lines that do not follow the field rules', () => {
    const good = statLine({ pid: 5, ppid: 1 }).trim();
    const fields = good.split(' ');
    const bad = [
      '',
      'garbage',
      '5 proc S 1 5 5', // no parentheses
      good.replace('(proc)', '(proc'), // no closing parenthesis
      fields.slice(0, 30).join(' '), // fewer than 15 fields after rss
      fields.map((f, i) => (i === 13 ? '-3' : f)).join(' '), // negative utime
      fields.map((f, i) => (i === 22 ? '12x' : f)).join(' '), // vsize not a number
      fields.map((f, i) => (i === 3 ? '1-2' : f)).join(' '), // ppid malformed
      good.replace(') S ', ') SS '), // state is one character
    ];
    for (const line of bad) expect(parseStatLine(5, line), line).toBeUndefined();
    expect(parseStatLine(5, good)).toBeDefined();
  });

  it('parses exactly as YARN\'s stat pattern does, on generated lines (the parser walks bytes, the oracle is the regex)', () => {
    const field = fc.stringMatching(/^(?:[0-9]{1,22}|-[0-9]{1,20}|[0-9-]{1,4}|)$/);
    const separator = fc.constantFrom(' ', ' ', ' ', ' ', '\t', '  ', 'x', '');
    const line = fc
      .record({
        head: fc.constantFrom('5', '-5', '12a', '', '7'),
        gap: fc.constantFrom(' (', '(', '  (', '\t('),
        comm: fc.stringMatching(/^[ a-z()0-9]{0,12}$/),
        state: fc.constantFrom(' S', ' R', ' Z', '  S', ' SS', ' \u0001', ' 7', ''),
        fields: fc.array(fc.tuple(separator, field), { minLength: 0, maxLength: 45 }),
        tail: fc.constantFrom('', '\n', '\n9 (x) S', ' ', ')'),
      })
      .map((l) => `${l.head}${l.gap}${l.comm})${l.state}${l.fields.map(([sep, f]) => sep + f).join('')}${l.tail}`);
    // Mostly-valid lines too: a kernel line with one field replaced or removed.
    const kernel = statLine({ pid: 5, ppid: 1, utime: 12, stime: 3, numThreads: 2, startTime: 99, vsize: 4096, rssPages: 7 }).trim().split(' ');
    const edited = fc
      .tuple(fc.integer({ min: 0, max: kernel.length - 1 }), fc.oneof(field, fc.constant(undefined), fc.constantFrom('\u0001', '\u007f', 'SS', '(x)')))
      .map(([at, f]) => kernel.flatMap((k, i) => (i !== at ? [k] : f === undefined ? [] : [f])).join(' '));
    let parsed = 0;
    fc.assert(
      fc.property(fc.oneof(line, edited), (l) => {
        const got = parseStatLine(5, l);
        expect(got).toEqual(yarnPattern(5, l));
        if (got) parsed++;
        // The reader's path: the bytes in a bigger buffer, cut at the first newline
        // (digits after it: a parser reading past the line would take them in).
        const buf = Buffer.alloc(4096, '9');
        const n = buf.write(l, 'utf8');
        const nl = buf.indexOf(10);
        expect(parseStatBytes(5, buf, nl >= 0 && nl < n ? nl : n)).toEqual(yarnPattern(5, l.split('\n')[0]!));
      }),
      { numRuns: 3000 },
    );
    expect(parsed).toBeGreaterThan(100); // the property saw both outcomes
  });
});

/** YARN's PROCFS_STAT_FILE_FORMAT as a regex, over the line as a string: the oracle for parseStatBytes. */
function yarnPattern(pid: number, line: string): ProcessStat | undefined {
  const head = /^[\d-]+\s\(/.exec(line);
  if (head === null) return undefined;
  const close = line.lastIndexOf(')');
  if (close < head[0].length) return undefined;
  const m =
    /^\s(\S)\s([\d-]+)\s([\d-]+)\s([\d-]+)\s(?:[\d-]+\s){7}(\d+)\s(\d+)\s(?:[\d-]+\s){4}([\d-]+)\s[\d-]+\s([\d-]+)\s(\d+)\s(\d+)(?:\s[\d-]+){15}/.exec(
      line.slice(close + 1),
    );
  if (m === null) return undefined;
  const int = (s: string) => (s.length > 0 && s.lastIndexOf('-') <= 0 ? Number(s) : NaN);
  const stat = {
    pid,
    comm: line.slice(head[0].length, close),
    state: m[1]!,
    ppid: int(m[2]!),
    pgrp: int(m[3]!),
    session: int(m[4]!),
    utime: Number(m[5]),
    stime: Number(m[6]),
    numThreads: int(m[7]!),
    startTime: int(m[8]!),
    vsize: Number(m[9]),
    rssPages: Number(m[10]),
  };
  return [stat.ppid, stat.pgrp, stat.session, stat.numThreads, stat.startTime].some(Number.isNaN) ? undefined : stat;
}

describe('ProcfsProcessTree', () => {
  let fake: FakeProcfs;
  let now: number;
  const tree = (root: string, opts: { smapsBasedRss?: boolean } = {}) =>
    new ProcfsProcessTree(root, { procfsRoot: fake.root, clock: () => now, pageSize: PAGE, clockTicks: 100, ...opts });

  beforeEach(() => {
    fake = new FakeProcfs();
    now = 1_000_000;
  });
  afterEach(() => fake.cleanup());

  it('is every process reachable from the root by parent links, breadth-first', () => {
    fake
      .set({ pid: 1, ppid: 0, comm: 'init' })
      .set({ pid: 100, ppid: 1, session: 100 })
      .set({ pid: 101, ppid: 100, session: 100 })
      .set({ pid: 102, ppid: 100, session: 100 })
      .set({ pid: 103, ppid: 101, session: 100 })
      .set({ pid: 200, ppid: 1, session: 200 }) // another session leader: not ours
      .set({ pid: 201, ppid: 200, session: 200 });
    const t = tree('100');
    t.update();
    expect(t.pids()).toEqual(['100', '101', '102', '103']);
    const other = tree('200');
    other.update();
    expect(other.pids()).toEqual(['200', '201']);
  });

  it("attaches an orphan of init that is not a session leader to its session leader", () => {
    fake
      .set({ pid: 1, ppid: 0 })
      .set({ pid: 100, ppid: 1, session: 100, vsize: 1000, rssPages: 1 })
      // a daemonized grandchild: its parent died, init adopted it, it kept the session
      .set({ pid: 150, ppid: 1, session: 100, vsize: 5000, rssPages: 7 })
      .set({ pid: 151, ppid: 150, session: 100, vsize: 10, rssPages: 1 })
      // an orphan that started its own session is no longer the container's
      .set({ pid: 160, ppid: 1, session: 160, vsize: 99999, rssPages: 99 });
    const t = tree('100');
    t.update();
    expect(t.pids()).toEqual(['100', '150', '151']);
    expect(t.virtualMemorySize()).toBe(6010);
    expect(t.rssMemorySize()).toBe(9 * PAGE);
  });

  it('pid 1 is nobody\'s child, even of a tree rooted at its ppid', () => {
    fake.set({ pid: 1, ppid: 0 }).set({ pid: 2, ppid: 0 }).set({ pid: 3, ppid: 2, session: 2 });
    const t = tree('2');
    t.update();
    expect(t.pids()).toEqual(['2', '3']);
  });

  it('ages processes by consecutive updates; "older than" sums leave the young out', () => {
    fake.set({ pid: 100, ppid: 1, vsize: 1_000_000, rssPages: 100 });
    const t = tree('100');
    expect(t.virtualMemorySize()).toBe(-1); // nothing read yet
    t.update();
    expect(t.ageOf('100')).toBe(1);
    expect(t.virtualMemorySize()).toBe(1_000_000);
    expect(t.virtualMemorySize(1)).toBe(0); // non-empty tree, nothing older than 1
    expect(t.rssMemorySize(1)).toBe(0);

    fake.set({ pid: 101, ppid: 100, vsize: 500_000, rssPages: 50 });
    t.update();
    expect([t.ageOf('100'), t.ageOf('101')]).toEqual([2, 1]);
    expect(t.virtualMemorySize()).toBe(1_500_000);
    expect(t.virtualMemorySize(1)).toBe(1_000_000);
    expect(t.rssMemorySize()).toBe(150 * PAGE);
    expect(t.rssMemorySize(1)).toBe(100 * PAGE);
    expect(t.rssMemorySize(2)).toBe(0);

    t.update();
    expect([t.ageOf('100'), t.ageOf('101')]).toEqual([3, 2]);
    expect(t.virtualMemorySize(1)).toBe(1_500_000);
    expect(t.virtualMemorySize(2)).toBe(1_000_000);

    // A process that leaves and comes back starts again at age 1.
    fake.remove(101);
    t.update();
    fake.set({ pid: 101, ppid: 100, vsize: 500_000, rssPages: 50 });
    t.update();
    expect([t.ageOf('100'), t.ageOf('101')]).toEqual([5, 1]);
  });

  it('reports -1 when the root is gone, and starts ages over when it is back', () => {
    fake.set({ pid: 100, ppid: 1, vsize: 10, rssPages: 1 });
    const t = tree('100');
    t.update();
    t.update();
    fake.remove(100);
    t.update();
    expect(t.pids()).toEqual([]);
    expect(t.virtualMemorySize()).toBe(-1);
    expect(t.rssMemorySize()).toBe(-1);
    fake.set({ pid: 100, ppid: 1, vsize: 10, rssPages: 1 });
    t.update();
    expect(t.ageOf('100')).toBe(1);
  });

  it('a root pid that is not a pid gives an empty tree', () => {
    fake.set({ pid: 100, ppid: 1, vsize: 10 });
    for (const root of ['-1', '0', '0100', 'abc', '../100', '']) {
      const t = tree(root);
      t.update();
      expect(t.pids()).toEqual([]);
      expect(t.virtualMemorySize()).toBe(-1);
    }
  });

  it('smaps mode: Anonymous kB of mappings that are not r--s or r-xs, × 1024', () => {
    const smaps = smapsMapping('rw-p', 100) + smapsMapping('r--s', 1000) + smapsMapping('r-xs', 2000) + smapsMapping('r-xp', 7) + smapsMapping('rw-s', 30);
    expect(anonymousKb(smaps)).toBe(137);
    fake
      .set({ pid: 100, ppid: 1, rssPages: 999, smaps })
      .set({ pid: 101, ppid: 100, rssPages: 999, smaps: smapsMapping('rw-p', 5) })
      .set({ pid: 102, ppid: 100, rssPages: 999 }); // no smaps file: counts 0
    const t = tree('100', { smapsBasedRss: true });
    t.update();
    expect(t.rssMemorySize()).toBe((137 + 5) * 1024);
    expect(t.rssMemorySize(1)).toBe(0);
    t.update();
    expect(t.rssMemorySize(1)).toBe((137 + 5) * 1024);
    const plain = tree('100');
    plain.update();
    expect(plain.rssMemorySize()).toBe(3 * 999 * PAGE);
  });

  it('CPU: -1 on the first sample, no new figure within 10 jiffies, Δcpu×100/Δt in float32', () => {
    fake.set({ pid: 100, ppid: 1, utime: 100, stime: 50 });
    const t = tree('100');
    t.update();
    expect(t.cumulativeCpuTimeMs()).toBe(1500);
    expect(t.cpuUsagePercent()).toBe(-1);

    // 100 ms later is not MORE than 10 jiffies (100 ms): still the previous value.
    now += 100;
    fake.set({ pid: 100, ppid: 1, utime: 110, stime: 50 });
    t.update();
    expect(t.cpuUsagePercent()).toBe(-1);

    // 1 s after the first sample: 100 ms of CPU over 1000 ms → 10 %.
    now += 900;
    t.update();
    expect(t.cpuUsagePercent()).toBe(10);

    // 3 s later, one jiffy of CPU: 10 × 100 / 3000 in float32.
    now += 3000;
    fake.set({ pid: 100, ppid: 1, utime: 111, stime: 50 });
    t.update();
    expect(t.cpuUsagePercent()).toBe(Math.fround(1 / 3));
    expect(t.cpuUsagePercent()).not.toBe(1 / 3);

    // Two cores busy for 2 s.
    now += 2000;
    fake.set({ pid: 100, ppid: 1, utime: 311, stime: 250 });
    t.update();
    expect(t.cpuUsagePercent()).toBe(200);
  });

  it('CPU: a clock that goes back starts the comparison over and keeps the last figure', () => {
    fake.set({ pid: 100, ppid: 1, utime: 0 });
    const t = tree('100');
    t.update();
    t.cpuUsagePercent();
    now += 1000;
    fake.set({ pid: 100, ppid: 1, utime: 50 });
    t.update();
    expect(t.cpuUsagePercent()).toBe(50);
    now -= 5000; // the wall clock was set back
    fake.set({ pid: 100, ppid: 1, utime: 150 });
    t.update();
    expect(t.cpuUsagePercent()).toBe(50);
    now += 2000;
    fake.set({ pid: 100, ppid: 1, utime: 170 });
    t.update();
    expect(t.cpuUsagePercent()).toBe(10); // 200 ms over 2000 ms since the reset
  });

  it('CPU time never decreases when a busy process leaves the tree', () => {
    fake.set({ pid: 100, ppid: 1, utime: 10 }).set({ pid: 101, ppid: 100, utime: 500, stime: 500 });
    const t = tree('100');
    t.update();
    expect(t.cumulativeCpuTimeMs()).toBe(10_100);
    t.cpuUsagePercent();
    fake.remove(101);
    now += 1000;
    t.update();
    expect(t.cumulativeCpuTimeMs()).toBe(10_100);
    expect(t.cpuUsagePercent()).toBe(0);
    fake.set({ pid: 100, ppid: 1, utime: 1020 });
    now += 1000;
    t.update();
    expect(t.cumulativeCpuTimeMs()).toBe(10_200);
    expect(t.cpuUsagePercent()).toBe(10);
  });

  it('cumulative CPU is -1 until a process is seen', () => {
    const t = tree('100');
    t.update();
    expect(t.cumulativeCpuTimeMs()).toBe(-1);
  });

  it('dumps the tree in YARN\'s format: raw jiffies, pages, NULs as spaces, N/A', () => {
    fake
      .set({ pid: 100, ppid: 1, pgrp: 100, session: 100, comm: 'bash', utime: 3, stime: 4, vsize: 1234567, rssPages: 89, cmdline: 'bash\0-c\0sleep 5\0' })
      .set({ pid: 101, ppid: 100, pgrp: 100, session: 100, comm: 'my proc (2)', utime: 30, stime: 40, vsize: 7654321, rssPages: 98, cmdline: '' });
    const t = tree('100');
    t.update();
    expect(t.processTreeDump()).toBe(
      '\t|- PID PPID PGRPID SESSID CMD_NAME USER_MODE_TIME(MILLIS) SYSTEM_TIME(MILLIS) VMEM_USAGE(BYTES) RSSMEM_USAGE(PAGES) FULL_CMD_LINE\n' +
        '\t|- 100 1 100 100 (bash) 3 4 1234567 89 bash -c sleep 5 \n' +
        '\t|- 101 100 100 100 (my proc (2)) 30 40 7654321 98 N/A\n',
    );
  });

  it('skips what cannot be read — vanished, corrupt, unreadable, not a pid — and goes on', () => {
    fake
      .set({ pid: 100, ppid: 1, vsize: 1 })
      .set({ pid: 101, ppid: 100, vsize: 10 })
      .rawStat(102, '102 (bad) S 100 100 100 0\n') // too short
      .rawStat(103, 'x'.repeat(10_000)) // longer than any stat line, and garbage
      .set({ pid: 105, ppid: 100, vsize: 100 });
    fs.mkdirSync(path.join(fake.root, '104')); // no stat file: vanished between listing and reading
    fs.mkdirSync(path.join(fake.root, '106', 'stat'), { recursive: true }); // stat unreadable (EISDIR)
    fs.mkdirSync(path.join(fake.root, 'self'));
    fs.mkdirSync(path.join(fake.root, '0107'));
    const reader = new ProcfsReader(fake.root);
    const scan = reader.scan();
    expect([...scan.processes.keys()].sort()).toEqual([100, 101, 105]);
    expect(scan.corrupt.sort()).toEqual([102, 103]);
    const t = tree('100');
    t.update();
    expect(t.pids()).toEqual(['100', '101', '105']);
    expect(t.virtualMemorySize()).toBe(111);
  });

  it('a missing procfs root is an empty tree, not an error', () => {
    const t = new ProcfsProcessTree('1', { procfsRoot: path.join(fake.root, 'nope'), clock: () => now, pageSize: PAGE, clockTicks: 100 });
    t.update();
    expect(t.virtualMemorySize()).toBe(-1);
  });

  it('a ppid cycle in a corrupt procfs does not loop', () => {
    fake.set({ pid: 100, ppid: 102 }).set({ pid: 101, ppid: 100 }).set({ pid: 102, ppid: 101 });
    const t = tree('100');
    t.update();
    expect(t.pids()).toEqual(['100', '101', '102']);
  });
});

describe('ProcfsReader keeping stat files open (the monitor\'s scan)', () => {
  // Only this process's fds on /proc/<pid>/stat (of `pid`, or of any pid) are counted: its other fds
  // (the test runner's own) may come and go meanwhile, and a count of all of them would see that.
  const statFds = (pid?: number) =>
    fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return new RegExp(`^/proc/${pid ?? '\\d+'}/stat$`).test(fs.readlinkSync(`/proc/self/fd/${fd}`));
      } catch {
        return false; // closed meanwhile (the directory's own fd among them)
      }
    }).length;

  it('re-reads a held file in place, and lets go of processes that are gone', async () => {
    const reader = new ProcfsReader('/proc', { keepOpen: true });
    const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
    try {
      const pid = child.pid!;
      const before = statFds();
      expect(statFds(pid)).toBe(0);
      expect(reader.readStat(pid)?.comm).toBe('sleep');
      expect(statFds(pid)).toBe(1); // held
      expect(reader.readStat(pid)?.pid).toBe(pid);
      expect(statFds(pid)).toBe(1); // the same file, read again
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited; // reaped: the held file now answers ESRCH
      expect(reader.readStat(pid)).toBeUndefined();
      expect(statFds(pid)).toBe(0);
      reader.scan();
      expect(statFds()).toBeGreaterThan(before); // the scan holds every process's stat file
      reader.close();
      expect(statFds()).toBeLessThanOrEqual(before);
    } finally {
      child.kill('SIGKILL');
      reader.close();
    }
  });

  it('reads a stat line longer than its buffer whole, and again on the next scan', () => {
    const fake = new FakeProcfs();
    try {
      const comm = 'n'.repeat(5000);
      fake.set({ pid: 100, ppid: 1, comm, vsize: 42 });
      const reader = new ProcfsReader(fake.root, { keepOpen: true });
      for (let i = 0; i < 3; i++) {
        const p = reader.scan().processes.get(100);
        expect(p?.comm).toBe(comm);
        expect(p?.vsize).toBe(42);
      }
      reader.close();
    } finally {
      fake.cleanup();
    }
  });

  it('sees new content and new processes on every scan, and drops vanished ones', () => {
    const fake = new FakeProcfs();
    try {
      fake.set({ pid: 100, ppid: 1, vsize: 1 }).set({ pid: 101, ppid: 100, vsize: 2 });
      const reader = new ProcfsReader(fake.root, { keepOpen: true });
      expect(reader.scan().processes.get(100)?.vsize).toBe(1);
      fake.set({ pid: 100, ppid: 1, vsize: 5 }).remove(101).set({ pid: 102, ppid: 100, vsize: 3 });
      const scan = reader.scan();
      expect(scan.processes.get(100)?.vsize).toBe(5);
      expect([...scan.processes.keys()].sort()).toEqual([100, 102]);
      reader.close();
    } finally {
      fake.cleanup();
    }
  });
});

describe('ProcfsProcessTree on the real /proc', () => {
  it('sees this process with its real numbers', () => {
    const t = new ProcfsProcessTree(String(process.pid));
    t.update();
    expect(t.pids()[0]).toBe(String(process.pid));
    const stat = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8');
    expect(t.virtualMemorySize()).toBeGreaterThan(0);
    expect(t.rssMemorySize()).toBeGreaterThan(0);
    expect(stat.startsWith(`${process.pid} (`)).toBe(true);
    expect(t.processTreeDump()).toContain(`\t|- ${process.pid} ${process.ppid} `);
  });
});

describe("the package root (import … from 'nodewarden')", () => {
  it('exports the SPEC §9 library from the built JavaScript', () => {
    const program = `
      import { ProcfsProcessTree, isProcessTreeOverLimit, long2String, memoryLimits } from 'nodewarden';
      const t = new ProcfsProcessTree(String(process.pid), { procfsRoot: '/proc' });
      t.update();
      console.log(JSON.stringify({
        pids: t.pids(), rss: t.rssMemorySize() > 0, cpu: t.cpuUsagePercent(),
        over: isProcessTreeOverLimit(3, 0, 1), size: long2String(1536, '', 1), limits: memoryLimits(1024, 2.1),
      }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { cwd: path.resolve(import.meta.dirname, '..'), encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ rss: true, cpu: -1, over: true, size: '1.5 K', limits: { pmemBytes: 1073741824, vmemBytes: 2254857728 } });
    expect((out.pids as string[]).length).toBeGreaterThanOrEqual(1);
  });
});

describe('long2String (Hadoop TraditionalBinaryPrefix)', () => {
  it.each([
    [0, '0'],
    [512, '512'],
    [1023, '1023'],
    [1024, '1 K'],
    [1536, '1.5 K'],
    [1075, '1.0 K'], // 1.0498…
    [1126, '1.1 K'], // 1.0996…
    [1280, '1.3 K'], // 1.25 exactly: half-up
    [1792, '1.8 K'], // 1.75 exactly: half-up
    [1048575, '1.0 M'], // 1023.999 K would print as "1024.0 K"
    [1048576, '1 M'],
    [2 ** 30, '1 G'],
    [1.5 * 2 ** 30, '1.5 G'],
    [2254857728, '2.1 G'],
    [100663296, '96 M'],
    [262144000, '250 M'],
    [-1536, '-1.5 K'],
    [2 ** 40, '1 T'],
    [2 ** 50 * 3, '3 P'],
    [2 ** 60, '1 E'],
  ])('%d → %s', (n, s) => {
    expect(long2String(n, '', 1)).toBe(s);
  });

  it('appends the unit after the prefix, or after a space when there is none', () => {
    expect(long2String(2 ** 30, 'B', 1)).toBe('1 GB');
    expect(long2String(512, 'B', 1)).toBe('512 B');
    expect(`${long2String(1.5 * 2 ** 30, '', 1)}B`).toBe('1.5 GB');
    expect(long2String(1100, '', 2)).toBe('1.07 K');
  });
});

describe('limits', () => {
  it('vmem limits are float32 products, as in YARN', () => {
    expect(memoryLimits(1024, 2.1)).toEqual({ pmemBytes: 1073741824, vmemBytes: 2254857728 });
    expect(memoryLimits(1000, 2.1)).toEqual({ pmemBytes: 1048576000, vmemBytes: 2202009600 });
    expect(memoryLimits(96, 2.1).vmemBytes).toBe(211392912);
    expect(memoryLimits(96, 2.1).vmemBytes).not.toBe(Math.trunc(2.1 * 96 * 2 ** 20));
  });

  it('over limit: current over twice the limit, or aged over the limit', () => {
    expect(isProcessTreeOverLimit(201, 0, 100)).toBe(true);
    expect(isProcessTreeOverLimit(200, 0, 100)).toBe(false);
    expect(isProcessTreeOverLimit(150, 101, 100)).toBe(true);
    expect(isProcessTreeOverLimit(150, 100, 100)).toBe(false);
  });

  it('milliVcores: cpu% / processors × 1000 × vcores / cpu-limit%, truncated in float32', () => {
    expect(milliVcoresUsed(50, 2, 8, 100)).toBe(2000);
    expect(milliVcoresUsed(100, 4, 8, 50)).toBe(4000);
    expect(milliVcoresUsed(Math.fround(1 / 3), 2, 8, 100)).toBe(13);
    // Double arithmetic would give 99.99999… → 99.
    expect(milliVcoresUsed(Math.fround(10 / 3), 2, 6, 100)).toBe(100);
    expect(milliVcoresUsed(0, 2, 8, 100)).toBe(0);
  });
});
