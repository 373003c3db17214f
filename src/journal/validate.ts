/**
 * Reading a journal line by line: each must be a record of the shape the
 * daemon writes, or replay stops with a JournalError naming the line and
 * what is wrong with it — never a stack trace, never a machine fed garbage.
 */
import { CONTAINER_EVENT_TYPES, CONTAINER_STATES } from '../../state-machines/types.js';
import { JOURNAL_FORMAT, JOURNAL_VERSION, READABLE_VERSIONS, type JournalHeader, type JournalRecord } from './records.js';

export class JournalError extends Error {
  override name = 'JournalError';
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

const STATES: ReadonlySet<unknown> = new Set(CONTAINER_STATES);
const EVENT_TYPES: ReadonlySet<unknown> = new Set(CONTAINER_EVENT_TYPES);

function parseJson(text: string, where: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new JournalError(`${where}: not valid JSON (${(err as Error).message}); the journal is corrupt or truncated`);
  }
  if (!isObject(v)) throw new JournalError(`${where}: expected a JSON object, not ${Array.isArray(v) ? 'an array' : typeof v}`);
  return v;
}

export function parseHeader(text: string, where: string): JournalHeader {
  const h = parseJson(text, where);
  if (h.format !== JOURNAL_FORMAT) {
    throw new JournalError(`${where}: not a nodewarden journal (the first line must be {"format":"${JOURNAL_FORMAT}","version":${JOURNAL_VERSION},…}); make one with \`nodewarden journal export\``);
  }
  if (!READABLE_VERSIONS.includes(h.version as number)) {
    throw new JournalError(`${where}: journal version ${JSON.stringify(h.version)} is not supported: this nodewarden reads versions ${READABLE_VERSIONS.join(' and ')}`);
  }
  if (!isObject(h.config)) throw new JournalError(`${where}: the header has no configuration ("config" must be an object of key → value)`);
  const since = h.since ?? 0;
  const samplesFrom = h.samplesFrom ?? null;
  if (!isInt(since) || since < 0) throw new JournalError(`${where}: "since" must be a sequence number`);
  if (samplesFrom !== null && !isInt(samplesFrom)) throw new JournalError(`${where}: "samplesFrom" must be a sequence number or null`);
  if (h.recorded !== undefined && !isObject(h.recorded)) throw new JournalError(`${where}: "recorded" must be the recorded configuration (an object of key → value)`);
  if (h.prunedBefore !== undefined && !isInt(h.prunedBefore)) throw new JournalError(`${where}: "prunedBefore" must be a sequence number`);
  return {
    format: JOURNAL_FORMAT,
    version: h.version as number,
    config: h.config as JournalHeader['config'],
    since,
    samplesFrom,
    ...(h.recorded !== undefined ? { recorded: h.recorded as JournalHeader['config'] } : {}),
    ...(h.prunedBefore !== undefined ? { prunedBefore: h.prunedBefore as number } : {}),
  };
}

/** The first field that is wrong, as "field: expected …", or null when the record has its shape. */
type Check = (r: Json) => string | null;

const need = (field: string, ok: (v: unknown) => boolean, expected: string): Check => (r) => (ok(r[field]) ? null : `${field}: expected ${expected}`);

function all(...checks: Check[]): Check {
  return (r) => {
    for (const c of checks) {
      const wrong = c(r);
      if (wrong !== null) return wrong;
    }
    return null;
  };
}

const container = need('container', isStr, 'a container id');

const resources = (v: unknown): boolean => isObject(v) && isNum(v.memoryMb) && isNum(v.vcores);

/** The fields each container event carries besides its type and ts (state-machines/types.ts). */
const EVENT_FIELDS: Partial<Record<string, Array<[string, (v: unknown) => boolean, string]>>> = {
  RESOURCE_LOCALIZED: [['name', isStr, 'a resource name']],
  RESOURCE_FAILED: [['name', isStr, 'a resource name'], ['diagnostics', isStr, 'a string']],
  CONTAINER_LAUNCHED: [['pid', isInt, 'a pid'], ['startTime', isNum, 'a start time']],
  CONTAINER_EXITED_WITH_SUCCESS: [['exitCode', isInt, 'an exit code']],
  CONTAINER_EXITED_WITH_FAILURE: [['exitCode', isInt, 'an exit code'], ['diagnostics', isStr, 'a string']],
  CONTAINER_KILLED_ON_REQUEST: [['exitCode', isInt, 'an exit code'], ['diagnostics', isStr, 'a string']],
  KILL_CONTAINER: [['exitStatus', isInt, 'an exit status'], ['diagnostics', isStr, 'a string']],
  UPDATE_DIAGNOSTICS_MSG: [['message', isStr, 'a string']],
};

/** What is wrong with a container event ("field: expected …"), or null. The live core refuses such events before recording them; replay, such records. */
export function checkEvent(e: unknown): string | null {
  if (!isObject(e) || !EVENT_TYPES.has(e.type)) return 'event: expected a container event with a known type';
  if (!isNum(e.ts)) return 'event.ts: expected a time';
  for (const [field, ok, expected] of EVENT_FIELDS[e.type as string] ?? []) if (!ok(e[field])) return `event.${field}: expected ${expected}`;
  return null;
}

const event: Check = (r) => checkEvent(r.event) ?? (isObject(r.event) && r.event.ts !== r.ts ? "event.ts: expected the record's ts" : null);

const spec: Check = (r) => {
  const s = r.spec;
  if (!isObject(s) || s.id !== r.container) return 'spec: expected the container\'s request, with its id';
  if (!Array.isArray(s.command) || !s.command.every(isStr) || s.command.length === 0) return 'spec.command: expected a list of strings';
  if (!resources(s.resources)) return 'spec.resources: expected {memoryMb, vcores}';
  if (!isObject(s.env) || !Array.isArray(s.localResources) || !isObject(s.retryPolicy) || !isStr(s.executionType)) {
    return 'spec: expected env, executionType, localResources and retryPolicy';
  }
  if (s.user !== undefined && !isStr(s.user)) return 'spec.user: expected a user name';
  return null;
};

/** A sampled process: 12 stat fields (strings at 4 and 5), then optionally its cmdline and anonymous kB. */
function isProcess(t: unknown): boolean {
  if (!Array.isArray(t) || t.length < 12 || t.length > 14) return false;
  for (let i = 0; i < 12; i++) if (i === 4 || i === 5 ? !isStr(t[i]) : !isNum(t[i])) return false;
  return (t.length < 13 || t[12] === null || isStr(t[12])) && (t.length < 14 || isNum(t[13]));
}

const samples: Check = (r) => {
  if (!isObject(r.samples)) return 'samples: expected container id → process list';
  for (const [id, tree] of Object.entries(r.samples)) {
    if (!Array.isArray(tree) || !tree.every(isProcess)) return `samples.${id}: expected a list of processes [pid, ppid, pgrp, session, comm, state, utime, stime, threads, starttime, vsize, rss pages, …]`;
  }
  if (r.oom !== undefined) {
    if (!isObject(r.oom)) return 'oom: expected container id → {kills, peakBytes, limitBytes}';
    for (const [id, n] of Object.entries(r.oom)) {
      if (!isObject(n) || !isInt(n.kills) || !isNum(n.peakBytes) || !isNum(n.limitBytes) || (n.atOwnLimit !== undefined && typeof n.atOwnLimit !== 'boolean')) {
        return `oom.${id}: expected {kills, peakBytes, limitBytes, atOwnLimit?}`;
      }
    }
  }
  if (r.pressure !== undefined && !isPressure(r.pressure)) return 'pressure: expected {some: {avg10, avg60, avg300, total}, full: … or null}';
  return null;
};

const isPressureLine = (l: unknown): boolean => isObject(l) && isNum(l.avg10) && isNum(l.avg60) && isNum(l.avg300) && isNum(l.total);
const isPressure = (p: unknown): boolean => isObject(p) && isPressureLine(p.some) && (p.full === null || isPressureLine(p.full));
const EXECUTION_TYPES: ReadonlySet<unknown> = new Set(['GUARANTEED', 'OPPORTUNISTIC']);
const executionType = (v: unknown): boolean => v === undefined || EXECUTION_TYPES.has(v);
const isByteCounts = (v: unknown): boolean => isObject(v) && Object.values(v).every(isNum);

const logDirs: Check = (r) => {
  if (!isObject(r.logDirs)) return 'logDirs: expected container id → directories';
  for (const [id, dirs] of Object.entries(r.logDirs)) {
    if (!Array.isArray(dirs) || !dirs.every((d) => isObject(d) && isStr(d.dir) && isNum(d.bytes))) return `logDirs.${id}: expected a list of {dir, bytes}`;
  }
  return null;
};

const monitorEvent: Check = (r) => {
  const e = r.event;
  if (isObject(e) && e.type === 'NODE_OOM') {
    if (e.ts !== r.ts) return "event.ts: expected the record's ts";
    return isNum(e.limitBytes) && isNum(e.usageBytes) && isByteCounts(e.usages) ? null : 'event: NODE_OOM needs limitBytes, usageBytes and usages (container id → bytes)';
  }
  if (!isObject(e) || !isStr(e.id) || e.ts !== r.ts) return 'event: expected a monitor event with an id and the record\'s ts';
  if (e.type === 'START_MONITORING') {
    return isInt(e.pid) && resources(e.resources) && executionType(e.executionType) ? null : 'event: START_MONITORING needs a pid, resources and an execution type if any';
  }
  if (e.type === 'CHANGE_MONITORING_CONTAINER_RESOURCE') return resources(e.resources) ? null : 'event: CHANGE_MONITORING_CONTAINER_RESOURCE needs resources';
  return e.type === 'STOP_MONITORING' ? null : 'event.type: expected START_MONITORING, STOP_MONITORING, CHANGE_MONITORING_CONTAINER_RESOURCE or NODE_OOM';
};

/** A caller as the kernel gave it: {uid, gid, pid}. */
const isCaller = (v: unknown): boolean => isObject(v) && isInt(v.uid) && isInt(v.gid) && isInt(v.pid);
/** Who asked (absent: the daemon itself, or a journal from before callers were recorded). */
const caller: Check = (r) => (r.caller === undefined || isCaller(r.caller) ? null : 'caller: expected {uid, gid, pid}');
/** Who launched and who killed a row's container (absent or null: the daemon itself, or not recorded). */
const rowCaller = (v: unknown): boolean => v === undefined || v === null || isCaller(v);

const row = (v: unknown): boolean =>
  isObject(v) &&
  rowCaller(v.launchedBy) &&
  rowCaller(v.killedBy) &&
  isStr(v.id) &&
  STATES.has(v.state) &&
  isObject(v.spec) &&
  v.spec.id === v.id &&
  resources(v.spec.resources) &&
  Array.isArray(v.pendingResources) &&
  isInt(v.attempt) &&
  isInt(v.launchAttempt) &&
  isNum(v.createdAt) &&
  isNum(v.updatedAt);

const FOUND_KINDS: ReadonlySet<unknown> = new Set(['none', 'alive', 'ended']);

const host = need(
  'host',
  (h) => isObject(h) && isInt(h.processors) && isInt(h.pageSize) && isInt(h.clockTicks) && (h.clockTicks as number) > 0 && (h.cgroups === undefined || typeof h.cgroups === 'boolean'),
  '{processors, pageSize, clockTicks, cgroups?}',
);

const start: Check = all(
  host,
  need('config', isObject, 'the configuration the daemon started with'),
  need('containers', (c) => Array.isArray(c) && c.every(row), 'the unfinished containers as restored'),
  need('done', (n) => n === undefined || isInt(n), 'a count'),
  need('found', (f) => isObject(f) && Object.values(f).every((p) => isObject(p) && FOUND_KINDS.has(p.kind)), 'container id → process found'),
);

const snapshot = need(
  'tracking',
  (t) =>
    Array.isArray(t) &&
    t.every(
      (c) =>
        isObject(c) &&
        isStr(c.id) &&
        isInt(c.pid) &&
        resources(c.resources) &&
        executionType(c.executionType) &&
        Array.isArray(c.ages) &&
        c.ages.every((a) => Array.isArray(a) && a.length === 2 && isInt(a[0]) && isInt(a[1])) &&
        isObject(c.cpu),
    ),
  'the tracked containers',
);

const monitorState: Check = all(
  snapshot,
  need('utilization', isObject, 'the node utilization'),
  need('pressure', (p) => p === undefined || (isObject(p) && (p.overSince === null || isNum(p.overSince))), '{overSince}'),
);

const held = (v: unknown): boolean =>
  Array.isArray(v) && v.every((h) => isObject(h) && isStr(h.id) && isObject(h.need) && isInt(h.need.memoryMb) && isInt(h.need.milliVcores) && EXECUTION_TYPES.has(h.executionType));

const checkpoint: Check = all(
  host,
  need('config', isObject, 'the configuration in force'),
  need('containers', (c) => Array.isArray(c) && c.every(row), 'every container known, as rows'),
  need(
    'scheduler',
    (s) => isObject(s) && held(s.running) && held(s.queuedGuaranteed) && held(s.queuedOpportunistic) && Array.isArray(s.beingKilled) && s.beingKilled.every(isStr),
    '{running, queuedGuaranteed, queuedOpportunistic, beingKilled}',
  ),
  (r) => {
    if (!isObject(r.monitor)) return "monitor: expected the monitor's state";
    const wrong = monitorState(r.monitor);
    return wrong === null ? null : `monitor.${wrong}`;
  },
);

const CHECKS: Record<JournalRecord['type'], Check> = {
  start,
  launch: all(container, spec, caller),
  event: all(container, event, caller),
  monitor: monitorEvent,
  tick: samples,
  'log-tick': logDirs,
  checkpoint,
  'monitor-snapshot': monitorState,
  'samples-gap': (r) => (isInt(r.until) && (r.until as number) > (r.seq as number) ? null : 'until: expected the seq of a later monitor-snapshot'),
  forget: need('containers', (c) => Array.isArray(c) && c.every(isStr), 'a list of container ids'),
  transition: all(container, need('from', (s) => STATES.has(s), 'a container state'), need('to', (s) => STATES.has(s), 'a container state'), event),
  kill: all(container, need('by', (b) => b === 'monitor' || b === 'scheduler', 'monitor or scheduler'), need('exitStatus', isInt, 'an exit status'), need('diagnostics', isStr, 'a string')),
};

export function parseRecord(text: string, where: string): JournalRecord {
  const r = parseJson(text, where);
  if (!isInt(r.seq) || r.seq <= 0) throw new JournalError(`${where}: "seq" must be a positive integer`);
  if (!isNum(r.ts)) throw new JournalError(`${where}: "ts" must be a time in ms`);
  const check = Object.hasOwn(CHECKS, r.type as string) ? CHECKS[r.type as JournalRecord['type']] : undefined;
  if (!check) throw new JournalError(`${where}: unknown record type ${JSON.stringify(r.type)}`);
  const wrong = check(r);
  if (wrong !== null) throw new JournalError(`${where}: ${r.type === 'event' ? 'an' : 'a'} ${r.type} record with a bad ${wrong}`);
  return r as unknown as JournalRecord;
}
