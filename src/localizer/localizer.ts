/**
 * Localization (YARN ResourceLocalizationService, reduced to one node): each
 * local resource is symlinked, or copied when asked, into the container
 * directory under its name. A source that does not exist fails the container
 * with a diagnostic that names it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { LocalResource } from '../../state-machines/types.js';

export type LocalizationResult = { name: string; ok: true } | { name: string; ok: false; diagnostics: string };

export async function localizeResource(containerDir: string, r: LocalResource): Promise<LocalizationResult> {
  try {
    await fs.stat(r.source);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`;
    return { name: r.name, ok: false, diagnostics: `Resource ${r.source} (as ${r.name}) cannot be localized: ${r.source} ${reason}` };
  }
  const target = path.join(containerDir, r.name);
  try {
    // Idempotent: a second attempt (a relaunch, a restart) replaces what the first left.
    await fs.rm(target, { recursive: true, force: true });
    if (r.copy) await fs.cp(r.source, target, { recursive: true });
    else await fs.symlink(r.source, target);
    return { name: r.name, ok: true };
  } catch (err) {
    return { name: r.name, ok: false, diagnostics: `Resource ${r.source} (as ${r.name}) cannot be localized: ${(err as Error).message}` };
  }
}
