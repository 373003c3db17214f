/** A valid container spec for tests, with whatever the test needs changed. */
import { NEVER_RETRY } from '../../state-machines/retry-policy.js';
import type { ContainerSpec } from '../../state-machines/types.js';

export function containerSpec(id: string, over: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    id,
    command: ['true'],
    env: {},
    resources: { memoryMb: 128, vcores: 1 },
    executionType: 'GUARANTEED',
    localResources: [],
    retryPolicy: NEVER_RETRY,
    ...over,
  };
}
