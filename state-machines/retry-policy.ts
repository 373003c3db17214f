import { ExitCode } from './exit-status.js';
import type { RetryPolicy } from './types.js';

export const NEVER_RETRY: RetryPolicy = { policy: 'NEVER_RETRY', errorCodes: [], maxRetries: 0, retryIntervalMs: 0 };

/** YARN's RETRY_FOREVER value of maxRetries. */
export const RETRY_FOREVER = -1;

/**
 * Whether a failed attempt is relaunched: ContainerImpl.shouldRetry. A success
 * or a kill (137, 143) never is; otherwise the policy decides, within the
 * retries left.
 */
export function shouldRetry(policy: RetryPolicy, remainingRetries: number, exitCode: number): boolean {
  if (exitCode === ExitCode.SUCCESS || exitCode === ExitCode.FORCE_KILLED || exitCode === ExitCode.TERMINATED) {
    return false;
  }
  const matches =
    policy.policy === 'RETRY_ON_ALL_ERRORS' ||
    (policy.policy === 'RETRY_ON_SPECIFIC_ERROR_CODES' && policy.errorCodes.includes(exitCode));
  return matches && (policy.maxRetries === RETRY_FOREVER || remainingRetries > 0);
}
