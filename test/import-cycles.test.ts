/**
 * No two modules of the daemon import each other, directly or round a
 * longer loop (type-only imports included: a cycle of types is still two
 * modules that cannot be read, or changed, one without the other).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOTS = ['src', 'state-machines'];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The modules a file imports by a relative path (`import … from './x.js'`, `export … from`), as source paths. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const found = [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gms)].map((m) => m[1]!);
  return found.map((spec) => path.normalize(path.join(path.dirname(file), spec.replace(/\.js$/, '.ts'))));
}

function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') found.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

describe('module imports', () => {
  it('have no cycle in src/ and state-machines/', () => {
    const files = ROOTS.flatMap(sources);
    const graph = new Map(files.map((f) => [f, importsOf(f).filter((i) => files.includes(i))]));
    // The walk sees real imports (a sanity check that the pattern matches them).
    expect(graph.get(path.normalize('src/store/store.ts'))).toContain(path.normalize('src/store/rows.ts'));
    expect(cycles(graph).map((c) => c.join(' → '))).toEqual([]);
  });
});
