/**
 * `nodewarden show ID`: a container's whole story on one screen — the
 * request, its limits and current usage, every transition with its time,
 * the diagnostics, where its logs are, and the last lines of its stderr.
 */
import path from 'node:path';
import type { ContainerView } from '../node/container-view.js';
import type { TransitionRow } from '../server/routes/containers.js';
import type { LogFileInfo } from '../server/routes/yarn.js';
import { age, bytes, known, table, time } from './format.js';

export interface ContainerStory {
  view: ContainerView;
  transitions: TransitionRow[];
  logFiles: LogFileInfo[];
  /** The end of stderr as read (null: no stderr file), and whether the file holds more before it. */
  stderrTail: { text: string; truncated: boolean } | null;
  /** How many of stderr's last lines to print. */
  lines: number;
}

/** Bytes of stderr fetched for its last lines: enough for any sensible `--lines`, bounded for a huge log. */
export const STDERR_TAIL_BYTES = 64 * 1024;

/** An argv as a shell would need it typed: plain words bare, the rest single-quoted. */
export function shellWords(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The last `n` lines of a tail; a line cut by the start of the window is dropped. */
export function lastLines(tail: { text: string; truncated: boolean }, n: number): string[] {
  let lines = tail.text.replace(/\n$/, '').split('\n');
  if (tail.truncated) lines = lines.slice(1);
  if (lines.length === 1 && lines[0] === '') return [];
  return lines.slice(-n);
}

function fieldList(fields: Array<[string, string]>, indent = ''): string {
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  return fields.map(([k, v]) => `${indent}${`${k}:`.padEnd(width)}  ${v}\n`).join('');
}

const indented = (text: string) => text.trimEnd().replace(/^/gm, '  ') + '\n';

/** The gap between two transitions: to the millisecond under 10 s ("+0.012s"), then as an age ("+17s", "+5m04s"). */
const gap = (ms: number) => (ms < 10_000 ? `+${(ms / 1000).toFixed(3)}s` : `+${age(0, ms)}`);

export function renderStory(story: ContainerStory): string {
  const { view, transitions } = story;
  const u = view.usage;
  const pct = (used: number, limit: number) => (limit > 0 ? ` (${Math.round((used * 100) / limit)}% of the limit)` : '');
  const retry = view.retryPolicy;
  const env = Object.entries(view.env);
  let out = fieldList([
    ['id', view.id],
    ['state', view.state],
    ['pid', known(view.pid)],
    ['exit status', known(view.exitStatus)],
    ['exit code', known(view.exitCode)],
    ['created', time(view.createdAt)],
    ...(view.launchedBy ? [['launched by', `uid ${view.launchedBy.uid}, gid ${view.launchedBy.gid}, pid ${view.launchedBy.pid}`] as [string, string]] : []),
    ...(view.killedBy ? [['killed by', `uid ${view.killedBy.uid}, gid ${view.killedBy.gid}, pid ${view.killedBy.pid}`] as [string, string]] : []),
    ['updated', time(view.updatedAt)],
    ['limits', `pmem ${bytes(view.limits.pmemBytes)}, vmem ${bytes(view.limits.vmemBytes)}, cpus ${view.limits.cpus}`],
    [
      'usage',
      u
        ? `pmem ${bytes(u.pmemBytes)}${pct(u.pmemBytes, view.limits.pmemBytes)}, vmem ${bytes(u.vmemBytes)}, cpu ${known(u.cpuPercent, (n) => `${n.toFixed(1)}%`)} (at ${time(u.timestamp)})`
        : '- (not sampled: the monitor measures running containers)',
    ],
    ...(u?.cgroup
      ? [['cgroup', `rss ${bytes(u.cgroup.rssBytes)}, cache ${bytes(u.cgroup.cacheBytes)}, total ${bytes(u.cgroup.totalBytes)}, swap ${bytes(u.cgroup.swapBytes)}`] as [string, string]]
      : []),
    ['work dir', view.workDir],
  ]);
  out += 'request:\n';
  out += fieldList(
    [
      ['command', shellWords(view.command)],
      ['resources', `${view.resources.memoryMb} MB, ${view.resources.vcores} vcores, ${view.executionType}`],
      ['env', env.length === 0 ? '-' : env.map(([k, v]) => shellWords([`${k}=${v}`])).join(' ')],
      ['local resources', view.localResources.length === 0 ? '-' : view.localResources.map((r) => `${r.name} ← ${r.source}${r.copy ? ' (copy)' : ''}`).join(', ')],
      [
        'retry policy',
        retry.policy === 'NEVER_RETRY'
          ? retry.policy
          : `${retry.policy}, max retries ${retry.maxRetries < 0 ? 'unlimited' : retry.maxRetries}, every ${retry.retryIntervalMs} ms${retry.errorCodes.length > 0 ? `, on exit codes ${retry.errorCodes.join(', ')}` : ''}`,
      ],
    ],
    '  ',
  );
  out += 'transitions:\n';
  out += indented(
    table(
      ['SEQ', 'TIME', 'AFTER', 'FROM', 'TO', 'EVENT'],
      transitions.map((t, i) => [String(t.seq), time(t.ts), i === 0 ? '' : gap(t.ts - transitions[i - 1]!.ts), t.from, t.to, t.event]),
    ),
  );
  out += view.diagnostics === '' ? 'diagnostics: -\n' : `diagnostics:\n${indented(view.diagnostics)}`;
  out += story.logFiles.length === 0 ? `logs: none yet (${view.logDir})\n` : `logs:\n${fieldList(story.logFiles.map((f) => [f.fileName, `${path.join(view.logDir, f.fileName)} (${bytes(f.fileSize)})`]), '  ')}`;
  if (story.stderrTail !== null) {
    const lines = lastLines(story.stderrTail, story.lines);
    out += lines.length === 0 ? 'stderr: empty\n' : `last ${lines.length === 1 ? 'line' : `${lines.length} lines`} of stderr:\n${indented(lines.join('\n'))}`;
  }
  return out;
}
