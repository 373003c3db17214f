/**
 * Configuration loading (SPEC §2): a JSON or yarn-site.xml file, then repeated
 * `--set key=value`, over the defaults of keys.ts; later layers win.
 */
import { parseListenAddress } from './listen-address.js';
import { readFileSync } from 'node:fs';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { KEYS, KEYS_BY_NAME, type ConfigValue, type KeySpec } from './keys.js';
import type { CgroupsSetting } from '../containment/detect.js';
import type { Config } from './types.js';

export type ConfigLayer = Record<string, string | number | boolean>;

export class ConfigError extends Error {
  /** The offending key, when the error is about one. */
  readonly key?: string;

  constructor(message: string, key?: string) {
    super(message);
    this.name = 'ConfigError';
    if (key !== undefined) this.key = key;
  }
}

// ---------------------------------------------------------------------------
// Files

/**
 * Reads a configuration file into a flat key → string map. XML (yarn-site.xml)
 * when the name ends in `.xml` or the content starts with `<`; JSON otherwise.
 */
export function parseConfigFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError(`cannot read configuration file ${path}: ${reason}`);
  }
  text = text.replace(/^\uFEFF/, ''); // editors on some platforms write a BOM
  const isXml = path.toLowerCase().endsWith('.xml') || text.trimStart().startsWith('<');
  return isXml ? parseXml(path, text) : parseJson(path, text);
}

function parseJson(path: string, text: string): Record<string, string> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`malformed JSON in configuration file ${path}: ${(err as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`configuration file ${path} must hold a JSON object of key → value`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(data)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      out[key] = String(value);
    } else {
      throw new ConfigError(
        `invalid value for ${key} in configuration file ${path}: expected a string, number or boolean, not ${describeJson(value)}`,
        key,
      );
    }
  }
  return out;
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : 'an object';
}

// Every value stays a string (no number parsing: "2.10" or "0010" must reach
// the key's own parser intact), and <property> is always an array so a file
// with a single property reads like one with many.
const xmlParser = new XMLParser({
  parseTagValue: false,
  ignoreAttributes: true,
  jPath: true,
  isArray: (_tag, jPath) => jPath === 'configuration.property',
});

function parseXml(path: string, text: string): Record<string, string> {
  // The parser alone is lenient about unclosed or mismatched tags, so validate first.
  const check = XMLValidator.validate(text);
  if (check !== true) {
    const { msg, line, col } = check.err;
    throw new ConfigError(`malformed XML in configuration file ${path} (line ${line}, column ${col}): ${msg}`);
  }
  let doc: unknown;
  try {
    doc = xmlParser.parse(text);
  } catch (err) {
    throw new ConfigError(`malformed XML in configuration file ${path}: ${(err as Error).message}`);
  }
  const root = (doc as Record<string, unknown>)['configuration'];
  if (root === undefined) {
    throw new ConfigError(`configuration file ${path} has no <configuration> element`);
  }
  // <configuration/> and <configuration></configuration> parse as "".
  const properties = typeof root === 'object' && root !== null ? (root as Record<string, unknown>)['property'] : undefined;
  const out: Record<string, string> = {};
  for (const [i, prop] of ((properties as unknown[] | undefined) ?? []).entries()) {
    const p = (typeof prop === 'object' && prop !== null ? prop : {}) as Record<string, unknown>;
    const name = p['name'];
    if (typeof name !== 'string' || name === '') {
      throw new ConfigError(`configuration file ${path}: <property> #${i + 1} has no <name>`);
    }
    const value = p['value'] ?? ''; // Hadoop reads a missing <value> as empty
    if (typeof value !== 'string') {
      throw new ConfigError(`configuration file ${path}: <value> of ${name} must be plain text`, name);
    }
    out[name] = value;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Command line

/** Splits a `--set key=value` argument on its first `=`. */
export function parseSetOption(s: string): [string, string] {
  const eq = s.indexOf('=');
  const key = eq < 0 ? '' : s.slice(0, eq).trim();
  if (key === '') {
    throw new ConfigError(`invalid --set argument "${s}": expected key=value`);
  }
  return [key, s.slice(eq + 1)];
}

// ---------------------------------------------------------------------------
// Resolution

const defaultWarn = (msg: string): void => console.warn(msg);

/**
 * Defaults, then each layer in order (later wins). Unknown keys are reported
 * through `warn` and ignored; a bad value throws a ConfigError naming the key.
 */
export function resolveConfig(layers: ConfigLayer[], warn: (msg: string) => void = defaultWarn): Config {
  const set = new Map<string, ConfigValue>();
  for (const layer of layers) {
    for (const [key, raw] of Object.entries(layer)) {
      const spec = KEYS_BY_NAME.get(key);
      if (spec === undefined) {
        warn(`unknown configuration key ${key} (ignored)`);
        continue;
      }
      set.set(key, parseValue(spec, raw));
    }
  }

  const effective: Record<string, ConfigValue> = {};
  for (const spec of KEYS) {
    effective[spec.name] = set.get(spec.name) ?? spec.default ?? fallbackValue(spec, set);
  }
  return buildConfig(effective);
}

function fallbackValue(spec: KeySpec, set: Map<string, ConfigValue>): ConfigValue {
  const target = spec.fallback === undefined ? undefined : KEYS_BY_NAME.get(spec.fallback);
  const value = target === undefined ? undefined : (set.get(target.name) ?? target.default);
  if (value === undefined) throw new Error(`config key ${spec.name} has neither a default nor a fallback`);
  return value;
}

/** Parses and validates one value; strings are parsed by the key's kind. */
function parseValue(spec: KeySpec, raw: string | number | boolean): ConfigValue {
  const bad = (): ConfigError =>
    new ConfigError(`invalid value ${JSON.stringify(String(raw))} for ${spec.name}: expected ${spec.expected}`, spec.name);

  switch (spec.kind) {
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      const s = String(raw).trim().toLowerCase();
      if (s === 'true') return true;
      if (s === 'false') return false;
      throw bad();
    }
    case 'integer':
    case 'number': {
      const n = typeof raw === 'number' ? raw : parseNumber(String(raw), spec.kind);
      if (n === undefined || !Number.isFinite(n)) throw bad();
      if (spec.kind === 'integer' && !Number.isSafeInteger(n)) throw bad();
      if (spec.valid !== undefined && !spec.valid(n)) throw bad();
      return spec.normalize === undefined ? n : spec.normalize(n);
    }
    case 'string': {
      const s = String(raw); // as a file layer would have it
      if (spec.valid !== undefined && !spec.valid(s)) throw bad();
      return s;
    }
  }
}

// Plain decimal only: Number("") is 0 and Number("0x10") is 16, neither of
// which a configuration value should mean.
const INTEGER_RE = /^[+-]?\d+$/;
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseNumber(s: string, kind: 'integer' | 'number'): number | undefined {
  const t = s.trim();
  return (kind === 'integer' ? INTEGER_RE : NUMBER_RE).test(t) ? Number(t) : undefined;
}

function buildConfig(e: Record<string, ConfigValue>): Config {
  // A wrong type here means a typo in a key name below, not bad input.
  const internal = (key: string): Error => new Error(`internal: config key ${key} missing or mistyped`);
  const bool = (key: string): boolean => {
    const v = e[key];
    if (typeof v !== 'boolean') throw internal(key);
    return v;
  };
  const num = (key: string): number => {
    const v = e[key];
    if (typeof v !== 'number') throw internal(key);
    return v;
  };
  const str = (key: string): string => {
    const v = e[key];
    if (typeof v !== 'string') throw internal(key);
    return v;
  };

  const monitorInterval = num('yarn.nodemanager.container-monitor.interval-ms');
  return {
    monitor: {
      enabled: bool('yarn.nodemanager.container-monitor.enabled') && monitorInterval > 0,
      intervalMs: monitorInterval,
      pmemCheckEnabled: bool('yarn.nodemanager.pmem-check-enabled'),
      vmemCheckEnabled: bool('yarn.nodemanager.vmem-check-enabled'),
      vmemPmemRatio: num('yarn.nodemanager.vmem-pmem-ratio'),
      smapsBasedRss: bool('yarn.nodemanager.container-monitor.procfs-tree.smaps-based-rss.enabled'),
      procfsRoot: str('nodewarden.procfs.root'),
      containerMetricsEnabled: bool('yarn.nodemanager.container-metrics.enable'),
      containerMetricsUnregisterDelayMs: num('yarn.nodemanager.container-metrics.unregister-delay-ms'),
    },
    logMonitor: {
      enabled: bool('yarn.nodemanager.container-log-monitor.enable'),
      intervalMs: num('yarn.nodemanager.container-log-monitor.interval-ms'),
      dirSizeLimitBytes: num('yarn.nodemanager.container-log-monitor.dir-size-limit-bytes'),
      totalSizeLimitBytes: num('yarn.nodemanager.container-log-monitor.total-size-limit-bytes'),
    },
    node: {
      memoryMb: num('yarn.nodemanager.resource.memory-mb'),
      vcores: num('yarn.nodemanager.resource.cpu-vcores'),
      cpuLimitPercent: num('yarn.nodemanager.resource.percentage-physical-cpu-limit'),
    },
    allowance: {
      cpus: num('nodewarden.executor.allowance.cpus'),
      memoryMb: num('nodewarden.executor.allowance.memory-mb'),
    },
    sigkillDelayMs: num('yarn.nodemanager.sleep-delay-before-sigkill.ms'),
    diagnosticsMaxSize: num('yarn.nodemanager.container-diagnostics-maximum-size'),
    opportunisticQueueLength: num('yarn.nodemanager.opportunistic-containers-max-queue-length'),
    recovery: {
      enabled: bool('yarn.nodemanager.recovery.enabled'),
      supervised: bool('yarn.nodemanager.recovery.supervised'),
      exitCodeFileTimeoutMs: num('yarn.nodemanager.container-executor.exit-code-file.timeout-ms'),
    },
    journal: {
      retentionHours: num('nodewarden.journal.retention-hours'),
      pruneIntervalMs: num('nodewarden.journal.prune-interval-ms'),
    },
    limits: {
      maxKnown: num('nodewarden.containers.max-known'),
      maxQueued: num('nodewarden.containers.max-queued'),
      finishedRetentionMs: num('nodewarden.containers.finished-retention-ms'),
    },
    metricsAddress: str('nodewarden.metrics.address') === '' ? null : parseListenAddress(str('nodewarden.metrics.address')),
    access: {
      socketGroup: str('nodewarden.socket.group') || null,
      adminGroup: str('nodewarden.socket.admin-group') || null,
      limitUsers: bool('yarn.nodemanager.linux-container-executor.nonsecure-mode.limit-users'),
      localUser: str('yarn.nodemanager.linux-container-executor.nonsecure-mode.local-user'),
      perUser: {
        maxContainers: num('nodewarden.user-limits.max-containers'),
        maxMemoryMb: num('nodewarden.user-limits.max-memory-mb'),
      },
    },
    memoryPressure: {
      elastic: bool('yarn.nodemanager.elastic-memory-control.enabled'),
      elasticTimeoutSec: num('yarn.nodemanager.elastic-memory-control.timeout-sec'),
      preemptThresholdPercent: num('nodewarden.memory-pressure.preempt-threshold-percent'),
      preemptAfterMs: num('nodewarden.memory-pressure.preempt-after-ms'),
    },
    oomScoreAdj: num('nodewarden.oom-score-adj'),
    cgroups: {
      enabled: str('nodewarden.cgroups.enabled') as CgroupsSetting,
      hierarchy: str('yarn.nodemanager.linux-container-executor.cgroups.hierarchy').replace(/^\//, ''),
      pidsMax: num('nodewarden.cgroups.pids-max'),
      strictCpu: bool('yarn.nodemanager.linux-container-executor.cgroups.strict-resource-usage'),
      memory: {
        enabled: bool('yarn.nodemanager.resource.memory.enabled'),
        enforced: bool('yarn.nodemanager.resource.memory.enforced'),
        softLimitPercent: num('yarn.nodemanager.resource.memory.cgroups.soft-limit-percentage'),
        swappiness: num('yarn.nodemanager.resource.memory.cgroups.swappiness'),
      },
    },
    runAs: {
      minUserId: num('nodewarden.container-executor.min-user-id'),
      bannedUsers: str('nodewarden.container-executor.banned-users').split(',').map((u) => u.trim()).filter(Boolean),
    },
    effective: e,
  };
}

// ---------------------------------------------------------------------------
// Convenience

export interface LoadOptions {
  /** --config FILE (JSON or yarn-site.xml). */
  file?: string;
  /** --set key=value arguments, in command-line order. */
  sets?: string[];
  warn?: (msg: string) => void;
}

/** The file layer, then the --set layer. */
export function loadConfig(opts: LoadOptions): Config {
  const layers: ConfigLayer[] = [];
  if (opts.file !== undefined) layers.push(parseConfigFile(opts.file));
  const sets: ConfigLayer = {};
  for (const arg of opts.sets ?? []) {
    const [key, value] = parseSetOption(arg);
    sets[key] = value; // a later --set of the same key wins
  }
  layers.push(sets);
  return resolveConfig(layers, opts.warn);
}

/** The embedded defaults of SPEC §2. */
export function defaultConfig(): Config {
  return resolveConfig([]);
}
