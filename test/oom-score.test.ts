/**
 * The kernel's order of choice under memory pressure (issue 21): the daemon
 * at -999, an OPPORTUNISTIC container at 1000, a GUARANTEED one by kubelet's
 * Burstable formula. Real processes, as root; the formula on its own.
 */
import fs from 'node:fs';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { containerOomScoreAdj } from '../state-machines/oom-score.js';
import { DaemonDir } from './helpers/daemon-process.js';
import { waitFor } from './helpers/proc.js';

const MB = 2 ** 20;
const GB = 2 ** 30;

describe('the formula (kubelet\'s)', () => {
  it('OPPORTUNISTIC: 1000; GUARANTEED: 1000 − 1000 × request / machine memory, within [3, 999], lower for a bigger request', () => {
    expect(containerOomScoreAdj('OPPORTUNISTIC', 64 * MB, 16 * GB)).toBe(1000);
    expect(containerOomScoreAdj('GUARANTEED', 4 * GB, 16 * GB)).toBe(750);
    expect(containerOomScoreAdj('GUARANTEED', 1 * GB, 16 * GB)).toBe(937);
    expect(containerOomScoreAdj('GUARANTEED', 1, 16 * GB)).toBe(999); // never BestEffort's 1000
    expect(containerOomScoreAdj('GUARANTEED', 16 * GB, 16 * GB)).toBe(3); // never below kubelet's Burstable floor
    expect(containerOomScoreAdj('GUARANTEED', 32 * GB, 16 * GB)).toBe(3);
  });
});

const adjOf = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim());
/** The pids of a process's children (the wrapper's command). */
const childrenOf = (pid: number) =>
  fs
    .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);

/** CAP_SYS_RESOURCE in this process's effective set: lowering an oom_score_adj needs it (root may lack it). */
const canLower = (BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`) >> 24n) & 1n;

/** -999 where the kernel lets the daemon lower it; elsewhere what it inherited, and the log says why. */
function expectDaemonAdj(pid: number, log: string): void {
  if (canLower) {
    expect(adjOf(pid)).toBe(-999);
  } else {
    expect(adjOf(pid)).toBe(adjOf(process.pid));
    expect(log).toMatch(/cannot set the daemon's oom_score_adj to -999 \(nodewarden.oom-score-adj\): the kernel refused it \(\w+\): lowering it needs CAP_SYS_RESOURCE/);
  }
}

describe.runIf(process.getuid?.() === 0)('on real processes (root)', () => {
  let d: DaemonDir | undefined;
  afterEach(async () => {
    await d?.cleanup();
    d = undefined;
  });

  it('the daemon at -999 (where the kernel lets it lower its own; else it says why); an OPPORTUNISTIC container at 1000, its command too; GUARANTEED ones by their request; all kept across a restart', async () => {
    d = new DaemonDir();
    const daemon = await d.start();
    expectDaemonAdj(daemon.child.pid!, daemon.output());
    const big = 4 * 1024; // MB
    await d.launch('best-effort', ['sleep', '1000'], { executionType: 'OPPORTUNISTIC' });
    await d.launch('small', ['sleep', '1000'], { resources: { memoryMb: 64, vcores: 1 } });
    await d.launch('big', ['sleep', '1000'], { resources: { memoryMb: big, vcores: 1 } });
    const pids: Record<string, number> = {};
    for (const id of ['best-effort', 'small', 'big']) pids[id] = (await d.until(id, 'RUNNING')).pid!;
    // The command is the wrapper's child: it inherited the wrapper's value, set before it was forked.
    const command = (id: string) => waitFor(() => childrenOf(pids[id]!)[0], 15_000, `${id}'s command`);
    expect(adjOf(pids['best-effort']!)).toBe(1000);
    expect(adjOf(await command('best-effort'))).toBe(1000);
    const small = containerOomScoreAdj('GUARANTEED', 64 * MB, os.totalmem());
    const large = containerOomScoreAdj('GUARANTEED', big * MB, os.totalmem());
    expect(adjOf(pids.small!)).toBe(small);
    expect(adjOf(await command('small'))).toBe(small);
    expect(adjOf(pids.big!)).toBe(large);
    expect(small).toBeGreaterThanOrEqual(3);
    expect(small).toBeLessThanOrEqual(999);
    expect(large).toBeLessThan(small);

    await d.crash();
    const again = await d.start();
    expectDaemonAdj(again.child.pid!, again.output());
    for (const id of ['best-effort', 'small', 'big']) expect((await d.until(id, 'RUNNING')).pid).toBe(pids[id]);
    expect([adjOf(pids['best-effort']!), adjOf(pids.small!), adjOf(pids.big!)]).toEqual([1000, small, large]);
  }, 60_000);
});
