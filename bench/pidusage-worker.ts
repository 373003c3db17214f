/**
 * pidtree + pidusage, ticked in a process of their own (forked by the
 * sampling bench, driven over IPC) as in pm2, where they run in its daemon:
 * pidusage keeps every stat file it reads open for a minute to re-read it in
 * place, and at 10,000 processes those files would not fit beside the
 * monitor's own and the floor's in one process's open-files limit.
 *
 * Message in: `{ roots, pids }` — pidtree(root) for each of `roots`, then one
 * pidusage call over `pids`. Message out: `{ treesMs, usageMs, found }`, or
 * `{ error }`.
 */
import pidtree from 'pidtree';
import pidusage from 'pidusage';

interface Tick {
  roots: number[];
  pids: number[];
}

process.on('message', (tick: Tick) => {
  void (async () => {
    try {
      let t = performance.now();
      let found = 0;
      for (const root of tick.roots) found += (await pidtree(root, { root: true })).length;
      const treesMs = performance.now() - t;
      t = performance.now();
      const usage = await pidusage(tick.pids);
      const usageMs = performance.now() - t;
      if (Object.keys(usage).length !== tick.pids.length) throw new Error(`pidusage answered for ${Object.keys(usage).length} of ${tick.pids.length} pids`);
      process.send!({ treesMs, usageMs, found });
    } catch (err) {
      process.send!({ error: (err as Error).message });
    }
  })();
});

// The bench gone, this goes too.
process.on('disconnect', () => process.exit(0));
