/**
 * The size of a container's log directory as YARN's log monitor counts it:
 * every regular file below it, recursively; symbolic links are not followed
 * (a link to a big file elsewhere is not the container's logging).
 */
import fs from 'node:fs';
import path from 'node:path';

export function logDirSize(dir: string): number {
  let total = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) total += logDirSize(p);
    else if (e.isFile()) {
      try {
        total += fs.lstatSync(p).size;
      } catch {
        // gone between the listing and the stat
      }
    }
  }
  return total;
}
