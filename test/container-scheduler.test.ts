import { describe, expect, it } from 'vitest';
import { ContainerScheduler, PREEMPTED_FOR_GUARANTEED, QUEUE_FULL } from '../state-machines/container-scheduler.js';

const mb = (memoryMb: number, milliVcores = 1000) => ({ memoryMb, milliVcores });
const launch = (id: string) => ({ type: 'LAUNCH_CONTAINER', id });

describe('ContainerScheduler', () => {
  it('starts what fits and tracks the allocation', () => {
    const s = new ContainerScheduler(mb(1000, 4000), 0);
    expect(s.schedule('a', mb(400), 'GUARANTEED')).toEqual([launch('a')]);
    expect(s.schedule('b', mb(400), 'GUARANTEED')).toEqual([launch('b')]);
    expect(s.allocated()).toEqual(mb(800, 2000));
  });

  it('GUARANTEED containers that do not fit wait, and start in order as room appears', () => {
    const s = new ContainerScheduler(mb(1000, 8000), 0);
    s.schedule('a', mb(600), 'GUARANTEED');
    expect(s.schedule('big', mb(900), 'GUARANTEED')).toEqual([]);
    // 'small' would fit now, but waits behind 'big': order is kept.
    expect(s.schedule('small', mb(100), 'GUARANTEED')).toEqual([]);
    expect(s.queued().guaranteed).toEqual(['big', 'small']);
    expect(s.completed('a')).toEqual([launch('big'), launch('small')]);
    expect(s.allocated()).toEqual(mb(1000, 2000));
  });

  it('vcores count too, in thousandths so allowances add up exactly', () => {
    const s = new ContainerScheduler(mb(10_000, 2000), 0);
    expect(s.schedule('a', mb(10, 1100), 'GUARANTEED')).toEqual([launch('a')]);
    expect(s.schedule('b', mb(10, 1100), 'GUARANTEED')).toEqual([]);
    expect(s.schedule('c', mb(10, 900), 'GUARANTEED')).toEqual([]); // behind b
  });

  it('OPPORTUNISTIC containers queue up to the maximum, then are refused with -108', () => {
    const s = new ContainerScheduler(mb(1000, 10_000), 2);
    s.schedule('g', mb(1000), 'GUARANTEED');
    expect(s.schedule('o1', mb(100), 'OPPORTUNISTIC')).toEqual([]);
    expect(s.schedule('o2', mb(100), 'OPPORTUNISTIC')).toEqual([]);
    expect(s.schedule('o3', mb(100), 'OPPORTUNISTIC')).toEqual([
      { type: 'KILL_CONTAINER', id: 'o3', exitStatus: -108, diagnostics: QUEUE_FULL },
    ]);
    expect(s.completed('g')).toEqual([launch('o1'), launch('o2')]);
  });

  it('with a queue length of 0 an OPPORTUNISTIC container that does not fit is refused at once', () => {
    const s = new ContainerScheduler(mb(100), 0);
    s.schedule('g', mb(100), 'GUARANTEED');
    expect(s.schedule('o', mb(10), 'OPPORTUNISTIC')).toEqual([
      { type: 'KILL_CONTAINER', id: 'o', exitStatus: -108, diagnostics: QUEUE_FULL },
    ]);
  });

  it('kills just enough OPPORTUNISTIC containers, newest first, to make room for a GUARANTEED one', () => {
    const s = new ContainerScheduler(mb(1000, 10_000), 0);
    s.schedule('o1', mb(300), 'OPPORTUNISTIC');
    s.schedule('o2', mb(300), 'OPPORTUNISTIC');
    s.schedule('o3', mb(300), 'OPPORTUNISTIC');
    const kill = (id: string) => ({ type: 'KILL_CONTAINER', id, exitStatus: -108, diagnostics: PREEMPTED_FOR_GUARANTEED });
    // 100 free, 500 wanted: two opportunistic containers must go.
    expect(s.schedule('g', mb(500), 'GUARANTEED')).toEqual([kill('o3'), kill('o2')]);
    // A second request does not kill the same ones twice.
    expect(s.schedule('g2', mb(100), 'GUARANTEED')).toEqual([]);
    expect(s.completed('o3')).toEqual([]);
    expect(s.completed('o2')).toEqual([launch('g'), launch('g2')]);
  });

  it('never kills GUARANTEED containers for room', () => {
    const s = new ContainerScheduler(mb(1000), 0);
    s.schedule('g1', mb(1000), 'GUARANTEED');
    expect(s.schedule('g2', mb(500), 'GUARANTEED')).toEqual([]);
  });

  it('a queued container that completes (killed while waiting) leaves the queue', () => {
    const s = new ContainerScheduler(mb(1000, 10_000), 5);
    s.schedule('g', mb(1000), 'GUARANTEED');
    s.schedule('w', mb(500), 'GUARANTEED');
    s.schedule('o', mb(500), 'OPPORTUNISTIC');
    expect(s.completed('w')).toEqual([]);
    expect(s.queued()).toEqual({ guaranteed: [], opportunistic: ['o'] });
    expect(s.completed('g')).toEqual([launch('o')]);
  });

  it('canEverFit compares with the whole node', () => {
    const s = new ContainerScheduler(mb(1000, 2000), 0);
    expect(s.canEverFit(mb(1000, 2000))).toBe(true);
    expect(s.canEverFit(mb(1001, 1000))).toBe(false);
    expect(s.canEverFit(mb(10, 2001))).toBe(false);
  });
});
