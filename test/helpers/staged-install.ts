/**
 * A copy of the built daemon that any user can read, for the tests that start
 * it as another user (`nobody`). The checkout may sit in a directory only its
 * owner can traverse (a clone under /root, mode 0700): a daemon started as
 * `nobody` from there cannot load its own code. So we stage what it needs to
 * run (bin/, dist/, db/migrations, package.json and the production
 * dependencies) in a world-readable temp directory, as an installed package
 * would be.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface StagedInstall {
  /** The staged `bin/nodewarden.js`. */
  bin: string;
  /** Its root, a good working directory for the daemon. */
  root: string;
  remove(): void;
}

/** Package directories of the production dependency tree, as npm resolved it (absolute paths). */
function productionPackages(checkout: string): string[] {
  let out: string;
  try {
    out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: checkout, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // npm ls exits 1 for a tree it finds untidy (extraneous, deduped) but still prints it.
    out = (err as { stdout?: string }).stdout ?? '';
  }
  const dirs = out.split('\n').filter((l) => l.startsWith(path.join(checkout, 'node_modules') + path.sep));
  if (dirs.length === 0) throw new Error(`npm ls found no production dependencies in ${checkout}: run npm ci first`);
  return dirs;
}

/** Make everything under `dir` readable by all, directories traversable (a+rX). */
function openToAll(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) openToAll(p);
    else fs.chmodSync(p, (fs.statSync(p).mode & 0o777) | 0o444);
  }
}

export function stageInstall(checkout = process.cwd()): StagedInstall {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-staged-'));
  try {
    for (const part of ['bin', 'dist', 'db/migrations', 'package.json']) fs.cpSync(path.join(checkout, part), path.join(root, part), { recursive: true });
    for (const dir of productionPackages(checkout)) {
      fs.cpSync(dir, path.join(root, path.relative(checkout, dir)), { recursive: true, force: true });
    }
    openToAll(root);
  } catch (err) {
    fs.rmSync(root, { recursive: true, force: true });
    throw err;
  }
  return { bin: path.join(root, 'bin', 'nodewarden.js'), root, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}
