/**
 * Fuzzing the process-tree code the monitor uses with generated procfs
 * trees: random and corrupt stat lines (names with spaces and parentheses,
 * missing or non-numeric fields, numbers far beyond 2^53, negative ones,
 * binary garbage), processes that vanish between the listing and the read,
 * ppid cycles, a process that is its own parent, sessions pointing nowhere,
 * over several updates. Whatever procfs holds: nothing throws, each process
 * is counted once, a tree is exactly what SPEC §5 makes reachable from its
 * root, ages count consecutive updates, sums are -1 only for an empty tree
 * and otherwise finite and never negative — for the library's
 * ProcfsProcessTree and for the monitor's one-scan TreeSampler alike.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TreeSampler } from '../src/monitor/tree-sampler.js';
import { ProcfsProcessTree } from '../src/procfs/procfs-process-tree.js';
import { parseStatBytes } from '../src/procfs/stat-line.js';
import { PROCESS_TREE_DUMP_HEADER } from '../state-machines/process-tree-dump.js';
import { ageTree, rssMemorySize, totalJiffies, virtualMemorySize, type ProcessStat } from '../state-machines/process-tree.js';
import { FakeProcfs, smapsMapping, statLine } from './helpers/fake-procfs.js';

const PAGE = 4096;
const log = pino({ level: 'silent' });

// ---------------------------------------------------------------------------
// Generated procfs: what each pid directory holds in one round.

/** Decimal text as the kernel would print a field, or something no kernel prints. */
const field = fc.oneof(
  { weight: 8, arbitrary: fc.nat({ max: 10_000_000 }).map(String) },
  { weight: 3, arbitrary: fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }).map(String) }, // beyond 2^53, within a u64
  { weight: 1, arbitrary: fc.stringMatching(/^[1-9][0-9]{20,40}$/) }, // beyond any u64
  { weight: 1, arbitrary: fc.constantFrom(`9${'0'.repeat(24)}`, `1${'7'.repeat(308)}`, '9'.repeat(400)) }, // one digit too many; near the largest double; beyond any double
  { weight: 1, arbitrary: fc.constantFrom('-1', '-4096', '-9223372036854775808', '-0') },
  { weight: 1, arbitrary: fc.constantFrom('', 'x', '1-2', '0x10', '1e5', '12 13', 'NaN', '٣') },
);

/** Process names: spaces, parentheses, a fake end of name, a newline, unicode, one far longer than a stat buffer. */
const comm = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[ a-z()0-9]{0,16}$/) },
  { weight: 1, arbitrary: fc.constantFrom(') S 1 1 1', 'a) b (c', ')', '(', 'x\ny', 'n'.repeat(5000), 'ünï cödé 🙂', '\u0000') },
);

type Fault =
  | { kind: 'none' }
  | { kind: 'garbage'; bytes: Uint8Array } // binary garbage instead of a stat line
  | { kind: 'truncated'; at: number } // the line cut short
  | { kind: 'noStat' } // a pid directory without a stat file
  | { kind: 'statIsDir' } // a stat that cannot be read (EISDIR)
  | { kind: 'vanish' }; // listed, then gone when its stat is opened or read (ENOENT / ESRCH)

const fault: fc.Arbitrary<Fault> = fc.oneof(
  { weight: 14, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ kind: 'garbage' as const, bytes })) },
  { weight: 1, arbitrary: fc.nat({ max: 200 }).map((at) => ({ kind: 'truncated' as const, at })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'noStat' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'statIsDir' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'vanish' as const }) },
);

interface GenProcess {
  pid: number;
  ppid: string;
  pgrp: string;
  session: string;
  comm: string;
  utime: string;
  stime: string;
  numThreads: string;
  startTime: string;
  vsize: string;
  rssPages: string;
  smaps: string | undefined;
  fault: Fault;
}

/** A pid of the pool, the process itself, init, the idle task, nobody, or a malformed one. */
const relative = (pids: number[], self: number) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...pids).map(String) },
    { weight: 2, arbitrary: fc.constant(String(self)) },
    { weight: 2, arbitrary: fc.constantFrom('1', '0') },
    { weight: 1, arbitrary: fc.integer({ min: -5, max: 99_999 }).map(String) },
    { weight: 1, arbitrary: field },
  );

const smaps = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.array(fc.tuple(fc.constantFrom('rw-p', 'r--s', 'r-xs', 'r-xp', 'rw-s'), fc.nat({ max: 100_000 })), { maxLength: 4 }).map((ms) => ms.map(([p, kb]) => smapsMapping(p, kb)).join('')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom(`9${'0'.repeat(24)}`, '9'.repeat(400)).map((n) => `${smapsMapping('rw-p', 1)}${smapsMapping('rw-p', 2).replace(/Anonymous: +2/, `Anonymous: ${n}`)}`) },
);

function processOf(pids: number[], pid: number): fc.Arbitrary<GenProcess> {
  return fc.record({
    pid: fc.constant(pid),
    ppid: relative(pids, pid),
    pgrp: relative(pids, pid),
    session: relative(pids, pid),
    comm,
    utime: field,
    stime: field,
    numThreads: field,
    startTime: field,
    vsize: field,
    rssPages: field,
    smaps,
    fault,
  });
}

/** One round of procfs: a subset of the pool, each with its content. */
const round = (pool: number[]) =>
  fc.subarray(pool).chain((present) => (present.length === 0 ? fc.constant<GenProcess[]>([]) : fc.tuple(...present.map((pid) => processOf(pool, pid)))));

/**
 * A live process's stat file never disappears while the process lives: a
 * reader holding it open would rightly still read it. So a pid that was
 * there on the round before cannot lose its stat file (it may vanish).
 */
function physical(rounds: GenProcess[][]): GenProcess[][] {
  return rounds.map((procs, i) => {
    const before = new Set((rounds[i - 1] ?? []).map((p) => p.pid));
    return procs.map((p) => (before.has(p.pid) && (p.fault.kind === 'noStat' || p.fault.kind === 'statIsDir') ? { ...p, fault: { kind: 'vanish' } } : p));
  });
}

/** A pool of pids (1 and large ones among them), a few rounds over it, the roots to watch, a clock. */
const world = fc
  .uniqueArray(fc.oneof(fc.integer({ min: 1, max: 30 }), fc.constantFrom(4_194_304, 2 ** 31 - 1, 99_999_999)), { minLength: 1, maxLength: 20 })
  .chain((pool) =>
    fc.record({
      pool: fc.constant(pool),
      rounds: fc.array(round(pool), { minLength: 1, maxLength: 4 }).map(physical),
      roots: fc.uniqueArray(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: fc.constantFrom(1, 31, 77_777) }), { minLength: 1, maxLength: 4 }),
      steps: fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 4, maxLength: 4 }),
      smapsBasedRss: fc.boolean(),
    }),
  );
type World = typeof world extends fc.Arbitrary<infer W> ? W : never;

/** The stat line, written with statLine's layout; the numeric fields go in as the text generated. */
function statText(p: GenProcess): Buffer {
  const text = (s: string) => s as unknown as number; // statLine joins its fields as text: any decimal text goes in as is
  const line = statLine({
    pid: p.pid,
    comm: p.comm,
    ppid: text(p.ppid),
    pgrp: text(p.pgrp),
    session: text(p.session),
    utime: text(p.utime),
    stime: text(p.stime),
    numThreads: text(p.numThreads),
    startTime: text(p.startTime),
    vsize: text(p.vsize),
    rssPages: text(p.rssPages),
  });
  if (p.fault.kind === 'garbage') return Buffer.from(p.fault.bytes);
  if (p.fault.kind === 'truncated') return Buffer.from(line).subarray(0, p.fault.at);
  return Buffer.from(line);
}

// ---------------------------------------------------------------------------
// Writing a round, and making listed processes vanish when read.

let fake: FakeProcfs;
/** Pids whose stat is gone by the time it is opened or read, this round. */
const vanishing = new Set<number>();

beforeEach(() => {
  fake = new FakeProcfs();
  vanishing.clear();
  // A vanished process: its directory is removed at the open (ENOENT), or a held file's read fails (ESRCH), as on a real procfs.
  const openSync = fs.openSync.bind(fs);
  const readSync = fs.readSync.bind(fs) as (...args: unknown[]) => number;
  const pidOf = (file: string): number | undefined => {
    const m = /\/(\d+)\/stat$/.exec(file);
    return m && file.startsWith(fake.root) ? Number(m[1]) : undefined;
  };
  vi.spyOn(fs, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
    const pid = pidOf(String(file));
    if (pid !== undefined && vanishing.has(pid)) fs.rmSync(path.join(fake.root, String(pid)), { recursive: true, force: true });
    return (openSync as (...a: unknown[]) => number)(file, ...rest);
  }) as typeof fs.openSync);
  vi.spyOn(fs, 'readSync').mockImplementation(((fd: number, ...rest: unknown[]) => {
    let file = '';
    try {
      file = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      // not a file we know
    }
    const pid = pidOf(file.replace(/ \(deleted\)$/, ''));
    if (pid !== undefined && vanishing.has(pid)) {
      fs.rmSync(path.join(fake.root, String(pid)), { recursive: true, force: true });
      throw Object.assign(new Error('ESRCH: no such process, read'), { code: 'ESRCH' });
    }
    return readSync(fd, ...rest);
  }) as typeof fs.readSync);
});

afterEach(() => {
  vi.restoreAllMocks();
  fake.cleanup();
});

/** Empty the fake procfs for the next run (the directory itself is made in beforeEach, removed in afterEach). */
function clearProcfs(): void {
  for (const name of fs.readdirSync(fake.root)) fs.rmSync(path.join(fake.root, name), { recursive: true, force: true });
}

/** Write one round over the previous one; a pid present in both is rewritten in place (a held stat file sees it). */
function writeRound(procs: GenProcess[]): void {
  const present = new Set(procs.map((p) => String(p.pid)));
  for (const name of fs.readdirSync(fake.root)) if (!present.has(name)) fs.rmSync(path.join(fake.root, name), { recursive: true, force: true });
  vanishing.clear();
  for (const p of procs) {
    const dir = path.join(fake.root, String(p.pid));
    const stat = path.join(dir, 'stat');
    fs.mkdirSync(dir, { recursive: true });
    if (fs.existsSync(stat) && fs.statSync(stat).isDirectory()) fs.rmSync(stat, { recursive: true });
    if (p.fault.kind === 'noStat') fs.rmSync(stat, { force: true });
    else if (p.fault.kind === 'statIsDir') {
      fs.rmSync(stat, { force: true });
      fs.mkdirSync(stat);
    } else fs.writeFileSync(stat, statText(p));
    if (p.smaps !== undefined) fs.writeFileSync(path.join(dir, 'smaps'), p.smaps);
    else fs.rmSync(path.join(dir, 'smaps'), { force: true });
    fs.writeFileSync(path.join(dir, 'cmdline'), `${p.comm}\0--flag\0`);
    if (p.fault.kind === 'vanish') vanishing.add(p.pid);
  }
  // Entries that are not pids.
  for (const name of ['self', '0123', 'abc']) fs.mkdirSync(path.join(fake.root, name), { recursive: true });
}

// ---------------------------------------------------------------------------
// The oracle: what a round's procfs holds, and what SPEC §5 puts in a tree.

/** What can be read of each process of a round (the stat parser itself is checked against YARN's pattern in procfs.test.ts). */
function readable(procs: GenProcess[]): Map<number, ProcessStat> {
  const out = new Map<number, ProcessStat>();
  for (const p of procs) {
    if (p.fault.kind === 'noStat' || p.fault.kind === 'statIsDir' || p.fault.kind === 'vanish') continue;
    const bytes = statText(p);
    const nl = bytes.indexOf(10);
    const stat = parseStatBytes(p.pid, bytes, nl >= 0 ? nl : bytes.length);
    if (stat) out.set(p.pid, stat);
  }
  return out;
}

/**
 * SPEC §5, walked upwards (the code walks down): a process belongs to the
 * tree when following its parent links reaches the root. Its parent is its
 * ppid, except that a child of pid 1 that is not a session leader hangs
 * under its session leader; pid 1 is nobody's child.
 */
function expectedTree(root: number, all: Map<number, ProcessStat>): Set<number> {
  const members = new Set<number>();
  if (!all.has(root)) return members;
  for (const p of all.values()) {
    const seen = new Set<number>();
    let at: ProcessStat | undefined = p;
    while (at !== undefined && !seen.has(at.pid)) {
      if (at.pid === root) {
        members.add(p.pid);
        break;
      }
      seen.add(at.pid);
      if (at.pid === 1) break;
      at = all.get(at.ppid === 1 && at.pid !== at.session ? at.session : at.ppid);
    }
  }
  return members;
}

/** -1 for an empty tree; otherwise a finite number, never negative. */
function expectSize(n: number, empty: boolean, what: string): void {
  if (empty) expect(n, what).toBe(-1);
  else {
    expect(Number.isFinite(n), `${what} = ${n}`).toBe(true);
    expect(n, what).toBeGreaterThanOrEqual(0);
  }
}

const numRuns = Number(process.env.NW_PROPERTY_RUNS ?? 150);

describe('fuzzing the process tree with generated procfs trees', () => {
  it('ProcfsProcessTree: never throws; each tree is what is reachable from its root, once each; ages count updates; sums are -1 or finite and ≥ 0', () => {
    fc.assert(
      fc.property(world, (w: World) => {
        clearProcfs();
        let now = 1_000_000;
        const trees = w.roots.map((root) => ({
          root,
          tree: new ProcfsProcessTree(String(root), { procfsRoot: fake.root, smapsBasedRss: w.smapsBasedRss, clock: () => now, pageSize: PAGE, clockTicks: 100 }),
          ages: new Map<number, number>(),
        }));
        w.rounds.forEach((procs, i) => {
          writeRound(procs);
          const all = readable(procs);
          now += w.steps[i]!;
          for (const t of trees) {
            t.tree.update();
            const pids = t.tree.pids().map(Number);
            const expected = expectedTree(t.root, all);
            expect(new Set(pids).size, 'no process counted twice').toBe(pids.length);
            expect(new Set(pids)).toEqual(expected);
            if (pids.length > 0) expect(pids[0]).toBe(t.root);

            // Ages: one more than last update for a process that stayed in the tree, else 1.
            const ages = new Map(pids.map((pid) => [pid, (t.ages.get(pid) ?? 0) + 1]));
            for (const [pid, age] of ages) expect(t.tree.ageOf(String(pid)), `age of ${pid}`).toBe(age);
            t.ages = ages;

            const members = pids.map((pid) => all.get(pid)!);
            for (const older of [0, 1, 2, 5]) {
              const vmem = t.tree.virtualMemorySize(older);
              const rss = t.tree.rssMemorySize(older);
              expectSize(vmem, pids.length === 0, `vmem(${older})`);
              expectSize(rss, pids.length === 0, `rss(${older})`);
              if (!w.smapsBasedRss) expect(rss).toBe(rssMemorySize(members, ages, older, { pageSize: PAGE, smaps: false }));
              expect(vmem).toBe(virtualMemorySize(members, ages, older));
            }
            const cumulative = t.tree.cumulativeCpuTimeMs();
            const percent = t.tree.cpuUsagePercent();
            for (const [n, what] of [[cumulative, 'cumulative CPU ms'], [percent, 'CPU %']] as const) {
              expect(Number.isFinite(n), `${what} = ${n}`).toBe(true);
              expect(n === -1 || n >= 0, `${what} = ${n}`).toBe(true);
            }
            const dump = t.tree.processTreeDump();
            expect(dump.startsWith(PROCESS_TREE_DUMP_HEADER)).toBe(true);
            expect(dump.split('\n\t|- ').length - 1).toBe(pids.length);
          }
        });
      }),
      { numRuns },
    );
  }, 60_000); // 150 generated worlds, each written to disk and read back: seconds idle, several times that on a loaded machine

  it("the monitor's TreeSampler (one scan for all roots, stat files held open across ticks) gives each root the library's tree and numbers, and lets its files go", () => {
    // The fds on files of the fake procfs (removed ones too): the process's other fds (the test runner's own) may come and go meanwhile.
    const openFds = () => {
      const root = `${fs.realpathSync(fake.root)}/`; // what /proc/self/fd links name
      return fs.readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(root);
        } catch {
          return false; // closed meanwhile (the directory's own fd among them)
        }
      }).length;
    };
    fc.assert(
      fc.property(world, (w: World) => {
        clearProcfs();
        const fdsBefore = openFds();
        let now = 1_000_000;
        const sampler = new TreeSampler({ procfsRoot: fake.root, smapsBasedRss: w.smapsBasedRss, log });
        try {
          const roots = new Map(w.roots.map((root) => [`c${root}`, root]));
          const library = new Map(w.roots.map((root) => [root, new ProcfsProcessTree(String(root), { procfsRoot: fake.root, smapsBasedRss: w.smapsBasedRss, clock: () => now, pageSize: PAGE, clockTicks: 100 })]));
          const monitorAges = new Map(w.roots.map((root) => [root, new Map<number, number>() as ReadonlyMap<number, number>]));
          w.rounds.forEach((procs, i) => {
            writeRound(procs);
            now += w.steps[i]!;
            // The sampler's read makes the vanishing processes gone for good: the library's read after it sees the same procfs.
            const samples = sampler.sample(roots);
            const all = readable(procs);
            for (const [id, root] of roots) {
              const tree = samples[id]!;
              const pids = tree.map((p) => p.pid);
              expect(new Set(pids).size, 'no process counted twice').toBe(pids.length);
              expect(new Set(pids)).toEqual(expectedTree(root, all));
              const ages = ageTree(monitorAges.get(root)!, tree);
              monitorAges.set(root, ages);
              const lib = library.get(root)!;
              lib.update();
              expect(lib.pids()).toEqual(pids.map(String));
              for (const older of [0, 1, 2]) {
                const vmem = virtualMemorySize(tree, ages, older);
                const rss = rssMemorySize(tree, ages, older, { pageSize: PAGE, smaps: w.smapsBasedRss });
                expectSize(vmem, tree.length === 0, `vmem(${older})`);
                expectSize(rss, tree.length === 0, `rss(${older})`);
                expect(vmem).toBe(lib.virtualMemorySize(older));
                expect(rss).toBe(lib.rssMemorySize(older));
              }
              const jiffies = totalJiffies(tree);
              expect(Number.isFinite(jiffies) && jiffies >= 0, `Σ jiffies = ${jiffies}`).toBe(true);
            }
          });
        } finally {
          sampler.close();
        }
        expect(openFds()).toBeLessThanOrEqual(fdsBefore);
      }),
      { numRuns },
    );
  }, 60_000); // as above
});

describe('what the fuzzer found: numbers too long to be a procfs number', () => {
  const tree = (opts: { smapsBasedRss?: boolean } = {}) => {
    let now = 1_000_000;
    const t = new ProcfsProcessTree('100', { procfsRoot: fake.root, clock: () => (now += 1000), pageSize: PAGE, clockTicks: 100, ...opts });
    return t;
  };
  const text = (s: string) => s as unknown as number;

  it('a utime of 400 digits made the CPU time Infinity and the CPU percent NaN: such a line is corrupt, its process skipped', () => {
    fake.set({ pid: 100, ppid: 1, utime: 5, vsize: 10 });
    fake.rawStat(101, statLine({ pid: 101, ppid: 100, utime: text('9'.repeat(400)), vsize: 20 }));
    const t = tree();
    t.update();
    t.cpuUsagePercent();
    t.update();
    expect(t.pids()).toEqual(['100']);
    expect(t.cumulativeCpuTimeMs()).toBe(50);
    expect(t.cpuUsagePercent()).toBe(0);
    expect(t.virtualMemorySize()).toBe(10);
  });

  it('two vsizes near the largest double summed to Infinity; numbers of 25 digits and more are refused, 24 still read', () => {
    const huge = `1${'7'.repeat(308)}`;
    fake.set({ pid: 100, ppid: 1, vsize: 10 });
    fake.rawStat(101, statLine({ pid: 101, ppid: 100, vsize: text(huge) }));
    fake.rawStat(102, statLine({ pid: 102, ppid: 100, vsize: text(huge) }));
    fake.rawStat(103, statLine({ pid: 103, ppid: 100, rssPages: text(`1${'0'.repeat(24)}`) }));
    fake.rawStat(104, statLine({ pid: 104, ppid: 100, vsize: text(`1${'0'.repeat(23)}`) }));
    const t = tree();
    t.update();
    expect(t.pids()).toEqual(['100', '104']);
    expect(t.virtualMemorySize()).toBe(10 + 1e23);
    expect(t.rssMemorySize()).toBe(0);
  });

  it("an smaps Anonymous of 400 digits made the tree's RSS Infinity: that value is not counted", () => {
    const smaps = smapsMapping('rw-p', 7) + smapsMapping('rw-p', 2).replace(/Anonymous: +2/, `Anonymous: ${'9'.repeat(400)}`);
    fake.set({ pid: 100, ppid: 1, smaps });
    const t = tree({ smapsBasedRss: true });
    t.update();
    expect(t.rssMemorySize()).toBe(7 * 1024);
  });
});
