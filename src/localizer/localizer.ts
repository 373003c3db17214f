/**
 * Localization (YARN ResourceLocalizationService, reduced to one node): each
 * local resource is symlinked, or copied when asked, into the container
 * directory under its name. A source that does not exist fails the container
 * with a diagnostic that names it.
 *
 * A container that runs as a user is localized as that user (uid and gid, no
 * other groups: the container's own credentials), as YARN's
 * ContainerLocalizer runs as the application's user: a copy made by root
 * would hand the container files its user cannot read (another user's,
 * behind a 0700 directory), and root's stat would tell it which paths exist.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { RunAs } from '../launcher/run-as.js';
import type { LocalResource } from '../../state-machines/types.js';

export type LocalizationResult = { name: string; ok: true } | { name: string; ok: false; diagnostics: string };

const failed = (r: LocalResource, why: string): LocalizationResult => ({ name: r.name, ok: false, diagnostics: `Resource ${r.source} (as ${r.name}) cannot be localized: ${why}` });

export async function localizeResource(containerDir: string, r: LocalResource, runAs: RunAs | null = null): Promise<LocalizationResult> {
  if (runAs !== null) return localizeAs(containerDir, r, runAs);
  try {
    await fs.stat(r.source);
  } catch (err) {
    return failed(r, `${r.source} ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`}`);
  }
  const target = path.join(containerDir, r.name);
  try {
    // Idempotent: a second attempt (a relaunch, a restart) replaces what the first left.
    await fs.rm(target, { recursive: true, force: true });
    if (r.copy) await fs.cp(r.source, target, { recursive: true });
    else await fs.symlink(r.source, target);
    return { name: r.name, ok: true };
  } catch (err) {
    return failed(r, (err as Error).message);
  }
}

/** The same steps, in a shell run as the user: exit 3 is a source the user cannot see. */
const AS_USER = `src=$1 dst=$2 how=$3
[ -e "$src" ] || [ -L "$src" ] || exit 3
[ -r "$src" ] || exit 4
rm -rf -- "$dst" || exit 1
if [ "$how" = copy ]; then exec cp -R -- "$src" "$dst"; else exec ln -s -- "$src" "$dst"; fi`;

function localizeAs(containerDir: string, r: LocalResource, runAs: RunAs): Promise<LocalizationResult> {
  // The target by its name in the working directory: the user may not be able to pass through the
  // directories above it, and needs not (the chdir happens before the uid changes, as for the container).
  const args = ['-c', AS_USER, 'localize', r.source, `./${r.name}`, r.copy ? 'copy' : 'link'];
  return new Promise((resolve) => {
    // libuv drops the supplementary groups, then sets gid and uid, as for the container itself.
    execFile('/bin/sh', args, { cwd: containerDir, uid: runAs.uid, gid: runAs.gid, env: { PATH: '/usr/bin:/bin' }, timeout: 10 * 60_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve({ name: r.name, ok: true });
      const code = (err as { code?: unknown }).code;
      if (code === 3) return resolve(failed(r, `${r.source} does not exist, or ${runAs.name} cannot reach it`));
      if (code === 4) return resolve(failed(r, `${r.source} cannot be read by ${runAs.name}`));
      resolve(failed(r, stderr.trim() || err.message));
    });
  });
}
