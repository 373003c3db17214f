import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  KEYS,
  defaultConfig,
  loadConfig,
  parseConfigFile,
  parseSetOption,
  resolveConfig,
} from '../src/config/index.js';

const RATIO = 'yarn.nodemanager.vmem-pmem-ratio';

// SPEC §2, copied by hand so that a changed default fails here.
const SPEC_DEFAULTS: Record<string, string | number | boolean> = {
  'yarn.nodemanager.container-monitor.enabled': true,
  'yarn.nodemanager.container-monitor.interval-ms': 3000,
  'yarn.nodemanager.resource-monitor.interval-ms': 3000,
  'yarn.nodemanager.pmem-check-enabled': true,
  'yarn.nodemanager.vmem-check-enabled': true,
  'yarn.nodemanager.vmem-pmem-ratio': 2.1,
  'yarn.nodemanager.resource.memory-mb': 8192,
  'yarn.nodemanager.resource.cpu-vcores': 8,
  'yarn.nodemanager.resource.percentage-physical-cpu-limit': 100,
  'yarn.nodemanager.sleep-delay-before-sigkill.ms': 250,
  'yarn.nodemanager.container-monitor.procfs-tree.smaps-based-rss.enabled': false,
  'yarn.nodemanager.container-log-monitor.enable': false,
  'yarn.nodemanager.container-log-monitor.interval-ms': 60000,
  'yarn.nodemanager.container-log-monitor.dir-size-limit-bytes': 1000000000,
  'yarn.nodemanager.container-log-monitor.total-size-limit-bytes': 10000000000,
  'yarn.nodemanager.container-diagnostics-maximum-size': 10000,
  'yarn.nodemanager.container-metrics.enable': true,
  'yarn.nodemanager.container-metrics.unregister-delay-ms': 10000,
  'yarn.nodemanager.recovery.enabled': true,
  'yarn.nodemanager.recovery.supervised': true,
  'yarn.nodemanager.container-executor.exit-code-file.timeout-ms': 2000,
  'yarn.nodemanager.opportunistic-containers-max-queue-length': 0,
  'nodewarden.executor.allowance.cpus': 0.1,
  'nodewarden.executor.allowance.memory-mb': 32,
  'nodewarden.procfs.root': '/proc',
  'nodewarden.journal.retention-hours': 24,
};

/** Keys beyond SPEC §2: the bounds and run-as rules of issue 9 (hardening). */
const HARDENING_DEFAULTS = {
  'nodewarden.containers.max-known': 10000,
  'nodewarden.containers.max-queued': 1000,
  'nodewarden.containers.finished-retention-ms': 10_800_000,
  'nodewarden.container-executor.min-user-id': 1000,
  'nodewarden.container-executor.banned-users': 'hdfs,yarn,mapred,bin',
};
/** Containment (issue 20): off until memory is enforced through cgroups too. */
const CGROUP_DEFAULTS = {
  'nodewarden.oom-score-adj': -999,
  'nodewarden.cgroups.enabled': 'auto',
  'yarn.nodemanager.linux-container-executor.cgroups.hierarchy': '/nodewarden',
  'nodewarden.cgroups.pids-max': 4096,
  'yarn.nodemanager.linux-container-executor.cgroups.strict-resource-usage': false,
  'yarn.nodemanager.resource.memory.enabled': false,
  'yarn.nodemanager.resource.memory.enforced': true,
  'yarn.nodemanager.resource.memory.cgroups.soft-limit-percentage': 90,
  'yarn.nodemanager.resource.memory.cgroups.swappiness': 0,
  'yarn.nodemanager.elastic-memory-control.enabled': false,
  'yarn.nodemanager.elastic-memory-control.timeout-sec': 5,
  'nodewarden.memory-pressure.preempt-threshold-percent': 0,
  'nodewarden.memory-pressure.preempt-after-ms': 10_000,
  'nodewarden.metrics.address': '',
  'nodewarden.journal.prune-interval-ms': 0,
  'nodewarden.socket.group': '',
  'nodewarden.socket.admin-group': '',
  'yarn.nodemanager.linux-container-executor.nonsecure-mode.limit-users': false,
  'yarn.nodemanager.linux-container-executor.nonsecure-mode.local-user': 'nobody',
  'nodewarden.user-limits.max-containers': 0,
  'nodewarden.user-limits.max-memory-mb': 0,
};
const ALL_DEFAULTS = { ...SPEC_DEFAULTS, ...HARDENING_DEFAULTS, ...CGROUP_DEFAULTS };

/** Runs fn and returns the ConfigError it throws (fails the test otherwise). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const noWarn = (msg: string): void => {
  throw new Error(`unexpected warning: ${msg}`);
};

describe('defaults', () => {
  it('equal SPEC §2 exactly, plus the hardening keys', () => {
    const c = defaultConfig();
    expect(c.effective).toEqual(ALL_DEFAULTS);
    expect(KEYS.map((k) => k.name).sort()).toEqual(Object.keys(ALL_DEFAULTS).sort());
    expect(c).toEqual({
      monitor: {
        enabled: true,
        intervalMs: 3000,
        pmemCheckEnabled: true,
        vmemCheckEnabled: true,
        vmemPmemRatio: 2.1,
        smapsBasedRss: false,
        procfsRoot: '/proc',
        containerMetricsEnabled: true,
        containerMetricsUnregisterDelayMs: 10000,
      },
      logMonitor: {
        enabled: false,
        intervalMs: 60000,
        dirSizeLimitBytes: 1000000000,
        totalSizeLimitBytes: 10000000000,
      },
      node: { memoryMb: 8192, vcores: 8, cpuLimitPercent: 100 },
      allowance: { cpus: 0.1, memoryMb: 32 },
      sigkillDelayMs: 250,
      diagnosticsMaxSize: 10000,
      opportunisticQueueLength: 0,
      recovery: { enabled: true, supervised: true, exitCodeFileTimeoutMs: 2000 },
      journal: { retentionHours: 24, pruneIntervalMs: 0 },
      limits: { maxKnown: 10000, maxQueued: 1000, finishedRetentionMs: 10_800_000 },
      oomScoreAdj: -999,
      metricsAddress: null,
      access: { socketGroup: null, adminGroup: null, limitUsers: false, localUser: 'nobody', perUser: { maxContainers: 0, maxMemoryMb: 0 } },
      memoryPressure: { elastic: false, elasticTimeoutSec: 5, preemptThresholdPercent: 0, preemptAfterMs: 10_000 },
      cgroups: { enabled: 'auto', hierarchy: 'nodewarden', pidsMax: 4096, strictCpu: false, memory: { enabled: false, enforced: true, softLimitPercent: 90, swappiness: 0 } },
      runAs: { minUserId: 1000, bannedUsers: ['hdfs', 'yarn', 'mapred', 'bin'] },
      effective: ALL_DEFAULTS,
    });
  });

  it('the hardening keys: banned users as a list (empty allowed), limits that must be positive', () => {
    const c = resolveConfig([{ 'nodewarden.container-executor.banned-users': ' alice , bob,', 'nodewarden.containers.finished-retention-ms': 0 }], noWarn);
    expect(c.runAs.bannedUsers).toEqual(['alice', 'bob']);
    expect(c.limits.finishedRetentionMs).toBe(0);
    expect(resolveConfig([{ 'nodewarden.container-executor.banned-users': '' }], noWarn).runAs.bannedUsers).toEqual([]);
    expect(configError(() => resolveConfig([{ 'nodewarden.containers.max-queued': 0 }], noWarn)).message).toMatch(/nodewarden.containers.max-queued.*a positive integer/);
    expect(configError(() => resolveConfig([{ 'nodewarden.containers.max-known': -1 }], noWarn)).message).toMatch(/max-known/);
    expect(configError(() => resolveConfig([{ 'nodewarden.container-executor.banned-users': 'a;rm' }], noWarn)).message).toMatch(/banned-users/);
  });

  it('resolveConfig([]) is the default config', () => {
    expect(resolveConfig([], noWarn)).toEqual(defaultConfig());
  });
});

describe('resolution', () => {
  it('container-monitor interval falls back to resource-monitor interval', () => {
    const c = resolveConfig([{ 'yarn.nodemanager.resource-monitor.interval-ms': '500' }], noWarn);
    expect(c.monitor.intervalMs).toBe(500);
    expect(c.effective['yarn.nodemanager.container-monitor.interval-ms']).toBe(500);
    expect(c.monitor.enabled).toBe(true);
  });

  it('an explicit container-monitor interval wins over the fallback', () => {
    const c = resolveConfig(
      [
        { 'yarn.nodemanager.container-monitor.interval-ms': '700' },
        { 'yarn.nodemanager.resource-monitor.interval-ms': '500' },
      ],
      noWarn,
    );
    expect(c.monitor.intervalMs).toBe(700);
    expect(c.effective['yarn.nodemanager.resource-monitor.interval-ms']).toBe(500);
  });

  it('monitoring is disabled when the interval is 0', () => {
    const c = resolveConfig([{ 'yarn.nodemanager.container-monitor.interval-ms': '0' }], noWarn);
    expect(c.monitor.intervalMs).toBe(0);
    expect(c.monitor.enabled).toBe(false);
    // Via the fallback too.
    const d = resolveConfig([{ 'yarn.nodemanager.resource-monitor.interval-ms': 0 }], noWarn);
    expect(d.monitor.enabled).toBe(false);
  });

  it('monitoring is disabled when container-monitor.enabled is false', () => {
    const c = resolveConfig([{ 'yarn.nodemanager.container-monitor.enabled': 'FALSE' }], noWarn);
    expect(c.monitor.enabled).toBe(false);
    expect(c.effective['yarn.nodemanager.container-monitor.enabled']).toBe(false);
  });

  it('-1 memory-mb means 8192 and -1 vcores means 8', () => {
    const c = resolveConfig(
      [{ 'yarn.nodemanager.resource.memory-mb': '-1', 'yarn.nodemanager.resource.cpu-vcores': -1 }],
      noWarn,
    );
    expect(c.node.memoryMb).toBe(8192);
    expect(c.node.vcores).toBe(8);
    expect(c.effective['yarn.nodemanager.resource.memory-mb']).toBe(8192);
  });

  it('parses strings by kind and accepts typed values', () => {
    const c = resolveConfig(
      [
        {
          [RATIO]: '1.5',
          'yarn.nodemanager.pmem-check-enabled': 'False',
          'yarn.nodemanager.vmem-check-enabled': false,
          'yarn.nodemanager.resource.memory-mb': 4096,
          'nodewarden.procfs.root': '/tmp/fakeproc',
          'nodewarden.executor.allowance.cpus': '0',
        },
      ],
      noWarn,
    );
    expect(c.monitor.vmemPmemRatio).toBe(1.5);
    expect(c.monitor.pmemCheckEnabled).toBe(false);
    expect(c.monitor.vmemCheckEnabled).toBe(false);
    expect(c.node.memoryMb).toBe(4096);
    expect(c.monitor.procfsRoot).toBe('/tmp/fakeproc');
    expect(c.allowance.cpus).toBe(0);
  });

  it('the effective map fed back in reproduces the same config', () => {
    const c = resolveConfig([{ 'yarn.nodemanager.resource-monitor.interval-ms': '100', [RATIO]: '3' }], noWarn);
    expect(resolveConfig([c.effective], noWarn)).toEqual(c);
  });

  it('warns about unknown keys and ignores them', () => {
    const warnings: string[] = [];
    const c = resolveConfig([{ 'yarn.nodemanager.no-such-key': 'x', [RATIO]: '3' }], (m) => warnings.push(m));
    expect(warnings).toEqual(['unknown configuration key yarn.nodemanager.no-such-key (ignored)']);
    expect(c.effective).not.toHaveProperty('yarn.nodemanager.no-such-key');
    expect(c.monitor.vmemPmemRatio).toBe(3);
  });
});

describe('bad values', () => {
  const cases: Array<[string, string | number | boolean, RegExp]> = [
    [RATIO, 'abc', /invalid value "abc" for yarn\.nodemanager\.vmem-pmem-ratio: expected a number ≥ 1\.0/],
    [RATIO, '0.5', /expected a number ≥ 1\.0/],
    [RATIO, '', /expected a number/],
    ['yarn.nodemanager.resource.percentage-physical-cpu-limit', '0', /expected an integer from 1 to 100/],
    ['yarn.nodemanager.resource.percentage-physical-cpu-limit', '101', /expected an integer from 1 to 100/],
    ['yarn.nodemanager.sleep-delay-before-sigkill.ms', '-5', /expected a non-negative integer/],
    ['yarn.nodemanager.sleep-delay-before-sigkill.ms', '2.5', /expected a non-negative integer/],
    ['yarn.nodemanager.resource-monitor.interval-ms', '0x10', /expected a non-negative integer/],
    ['yarn.nodemanager.container-monitor.interval-ms', 'soon', /expected a non-negative integer/],
    ['yarn.nodemanager.resource.memory-mb', '0', /positive integer, or -1/],
    ['yarn.nodemanager.resource.cpu-vcores', '-2', /positive integer, or -1/],
    ['yarn.nodemanager.pmem-check-enabled', 'yes', /invalid value "yes" .*: expected true or false/],
    ['yarn.nodemanager.recovery.enabled', 1, /expected true or false/],
    ['nodewarden.journal.retention-hours', '0', /expected a number > 0/],
    ['nodewarden.executor.allowance.cpus', '-0.1', /expected a number ≥ 0/],
    ['nodewarden.executor.allowance.memory-mb', '-1', /expected a non-negative integer/],
    ['nodewarden.cgroups.enabled', 'yes', /expected auto, true or false/],
    ['yarn.nodemanager.linux-container-executor.cgroups.hierarchy', '../up', /expected one cgroup name/],
    ['yarn.nodemanager.linux-container-executor.cgroups.hierarchy', 'a/b', /expected one cgroup name/],
    ['yarn.nodemanager.resource.memory.cgroups.soft-limit-percentage', '101', /expected a number from 0 to 100/],
    ['yarn.nodemanager.resource.memory.cgroups.swappiness', '-1', /expected an integer from 0 to 100/],
    ['nodewarden.procfs.root', '', /expected a non-empty path/],
  ];

  for (const [key, value, message] of cases) {
    it(`${key} = ${JSON.stringify(value)} is a ConfigError naming the key`, () => {
      const err = configError(() => resolveConfig([{ [key]: value }], noWarn));
      expect(err.key).toBe(key);
      expect(err.message).toContain(key);
      expect(err.message).toMatch(message);
    });
  }
});

describe('files', () => {
  let dir: string | undefined;

  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function file(name: string, content: string): string {
    dir ??= mkdtempSync(join(tmpdir(), 'nodewarden-config-'));
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  }

  it('reads a flat JSON file', () => {
    const path = file(
      'nodewarden.json',
      JSON.stringify({
        [RATIO]: 3.5,
        'yarn.nodemanager.pmem-check-enabled': false,
        'yarn.nodemanager.resource.memory-mb': '2048',
      }),
    );
    expect(parseConfigFile(path)).toEqual({
      [RATIO]: '3.5',
      'yarn.nodemanager.pmem-check-enabled': 'false',
      'yarn.nodemanager.resource.memory-mb': '2048',
    });
    const c = loadConfig({ file: path, warn: noWarn });
    expect(c.monitor.vmemPmemRatio).toBe(3.5);
    expect(c.monitor.pmemCheckEnabled).toBe(false);
    expect(c.node.memoryMb).toBe(2048);
  });

  it('reads a yarn-site.xml with one property', () => {
    const path = file(
      'yarn-site.xml',
      `<?xml version="1.0"?>
<configuration>
  <property>
    <name>${RATIO}</name>
    <value>2.10</value>
    <description>kept as text, not parsed by the XML layer</description>
  </property>
</configuration>
`,
    );
    expect(parseConfigFile(path)).toEqual({ [RATIO]: '2.10' });
  });

  it('reads a yarn-site.xml with several properties, without lossy number conversion', () => {
    const path = file(
      'site.conf', // not .xml: detected by the leading "<"
      `<configuration>
  <property><name>yarn.nodemanager.container-log-monitor.total-size-limit-bytes</name><value>123456789012345</value></property>
  <property><name>yarn.nodemanager.resource.memory-mb</name><value>-1</value></property>
  <property><name>yarn.nodemanager.vmem-check-enabled</name><value>false</value></property>
  <property><name>nodewarden.procfs.root</name><value>/tmp/a&amp;b</value></property>
</configuration>`,
    );
    expect(parseConfigFile(path)).toEqual({
      'yarn.nodemanager.container-log-monitor.total-size-limit-bytes': '123456789012345',
      'yarn.nodemanager.resource.memory-mb': '-1',
      'yarn.nodemanager.vmem-check-enabled': 'false',
      'nodewarden.procfs.root': '/tmp/a&b',
    });
    const c = loadConfig({ file: path, warn: noWarn });
    expect(c.logMonitor.totalSizeLimitBytes).toBe(123456789012345);
    expect(c.node.memoryMb).toBe(8192);
    expect(c.monitor.vmemCheckEnabled).toBe(false);
  });

  it('reads an empty <configuration/>', () => {
    expect(parseConfigFile(file('empty.xml', '<configuration/>'))).toEqual({});
  });

  it('--set overrides the file, and a later --set wins', () => {
    const path = file('c.json', JSON.stringify({ [RATIO]: 3, 'yarn.nodemanager.sleep-delay-before-sigkill.ms': 100 }));
    const c = loadConfig({
      file: path,
      sets: [`${RATIO}=4`, 'yarn.nodemanager.sleep-delay-before-sigkill.ms=500', `${RATIO}=5.5`],
      warn: noWarn,
    });
    expect(c.monitor.vmemPmemRatio).toBe(5.5);
    expect(c.sigkillDelayMs).toBe(500);
  });

  it('an unknown key in a file warns and is ignored', () => {
    const warnings: string[] = [];
    const path = file('c.json', JSON.stringify({ 'yarn.nodemanager.bogus': 1 }));
    expect(loadConfig({ file: path, warn: (m) => warnings.push(m) })).toEqual(defaultConfig());
    expect(warnings).toEqual(['unknown configuration key yarn.nodemanager.bogus (ignored)']);
  });

  it('a bad value in a file names the key', () => {
    const path = file('c.json', JSON.stringify({ 'yarn.nodemanager.resource.percentage-physical-cpu-limit': 0 }));
    const err = configError(() => loadConfig({ file: path, warn: noWarn }));
    expect(err.key).toBe('yarn.nodemanager.resource.percentage-physical-cpu-limit');
  });

  it('a nested JSON value is a ConfigError naming the key', () => {
    const obj = file('obj.json', JSON.stringify({ [RATIO]: { value: 2 } }));
    const err = configError(() => parseConfigFile(obj));
    expect(err.key).toBe(RATIO);
    expect(err.message).toContain(RATIO);
    expect(err.message).toContain(obj);

    const arr = file('arr.json', JSON.stringify({ 'nodewarden.procfs.root': ['/proc'] }));
    expect(configError(() => parseConfigFile(arr)).key).toBe('nodewarden.procfs.root');
  });

  it('a JSON file that is not an object is a ConfigError naming the file', () => {
    const path = file('list.json', '[1, 2]');
    expect(configError(() => parseConfigFile(path)).message).toContain(path);
  });

  it('a missing file is a ConfigError naming the file', () => {
    dir = mkdtempSync(join(tmpdir(), 'nodewarden-config-'));
    const path = join(dir, 'absent.json');
    const err = configError(() => loadConfig({ file: path }));
    expect(err.message).toContain(path);
    expect(err.key).toBeUndefined();
  });

  it('malformed JSON is a ConfigError naming the file', () => {
    const path = file('bad.json', '{"yarn.nodemanager.vmem-pmem-ratio": 2.1,');
    expect(configError(() => parseConfigFile(path)).message).toMatch(/malformed JSON/);
    expect(configError(() => parseConfigFile(path)).message).toContain(path);
  });

  it('malformed XML is a ConfigError naming the file', () => {
    const unclosed = file('unclosed.xml', '<configuration><property><name>a</name><value>1</value></property>');
    const mismatched = file('mismatched.xml', '<configuration><property><name>a</name><value>1</valu></property></configuration>');
    for (const path of [unclosed, mismatched]) {
      const err = configError(() => parseConfigFile(path));
      expect(err.message).toMatch(/malformed XML/);
      expect(err.message).toContain(path);
    }
  });

  it('XML without <configuration> or a property without <name> is a ConfigError naming the file', () => {
    const noRoot = file('noroot.xml', '<properties><property><name>a</name></property></properties>');
    expect(configError(() => parseConfigFile(noRoot)).message).toContain(noRoot);
    const noName = file('noname.xml', '<configuration><property><value>1</value></property></configuration>');
    expect(configError(() => parseConfigFile(noName)).message).toContain(noName);
  });
});

describe('parseSetOption', () => {
  it('splits on the first "="', () => {
    expect(parseSetOption('a.b=c=d')).toEqual(['a.b', 'c=d']);
    expect(parseSetOption('nodewarden.procfs.root=')).toEqual(['nodewarden.procfs.root', '']);
  });

  it('rejects a missing "=" or an empty key, naming the argument', () => {
    for (const arg of ['no-equals-sign', '=value', '']) {
      const err = configError(() => parseSetOption(arg));
      expect(err.message).toContain(`"${arg}"`);
    }
  });

  it('loadConfig reports a bad --set', () => {
    expect(() => loadConfig({ sets: ['oops'] })).toThrow(ConfigError);
  });
});

describe('nodewarden.metrics.address', () => {
  const noWarn = () => {};
  it('HOST:PORT: a name, IPv4, or IPv6 in brackets; empty is off', () => {
    expect(resolveConfig([{}], noWarn).metricsAddress).toBeNull();
    expect(resolveConfig([{ 'nodewarden.metrics.address': '127.0.0.1:9464' }], noWarn).metricsAddress).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(resolveConfig([{ 'nodewarden.metrics.address': '[::1]:0' }], noWarn).metricsAddress).toEqual({ host: '::1', port: 0 });
    expect(resolveConfig([{ 'nodewarden.metrics.address': 'node-7.example:9464' }], noWarn).metricsAddress).toEqual({ host: 'node-7.example', port: 9464 });
  });

  it('anything else is refused, naming the key and the form', () => {
    for (const bad of ['9464', ':9464', 'localhost', '127.0.0.1:65536', '[zz::]:1', '::1:9464', 'http://x:1', 'a b:1']) {
      expect(configError(() => resolveConfig([{ 'nodewarden.metrics.address': bad }], noWarn)).message, bad).toMatch(/nodewarden\.metrics\.address.*HOST:PORT/);
    }
  });
});
