/**
 * One entry of the machine's name services (`getent passwd|group KEY`), so
 * that files, LDAP and sssd are all asked, as the login tools do.
 */
import { execFile } from 'node:child_process';

/** The entry's fields, or null when there is no such key. Rejects when getent itself fails (a name service down). */
export function getent(db: 'passwd' | 'group', key: string): Promise<string[] | null> {
  return new Promise((resolve, reject) => {
    execFile('getent', [db, '--', key], { timeout: 5000 }, (err, stdout) => {
      // getent exits 2 for "no such key".
      if (err) return (err as { code?: unknown }).code === 2 ? resolve(null) : reject(new Error(`getent ${db} ${key}: ${err.message}`));
      const f = stdout.split('\n')[0]?.split(':');
      resolve(f && f.length >= 3 ? f : null);
    });
  });
}
