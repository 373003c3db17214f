export type { Config } from './types.js';
export {
  KEYS,
  KEYS_BY_NAME,
  CONTAINER_MONITOR_INTERVAL,
  RESOURCE_MONITOR_INTERVAL,
  type ConfigKind,
  type ConfigValue,
  type KeySpec,
  type BooleanSpec,
  type NumericSpec,
  type StringSpec,
} from './keys.js';
export {
  ConfigError,
  parseConfigFile,
  parseSetOption,
  resolveConfig,
  loadConfig,
  defaultConfig,
  type ConfigLayer,
  type LoadOptions,
} from './load.js';
