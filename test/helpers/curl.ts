/** `curl --unix-socket`, run asynchronously (the daemon under test may share this process). */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: any;
}

export async function curl(socket: string, args: string[]): Promise<CurlResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-curl-'));
  const headerFile = path.join(dir, 'headers');
  const bodyFile = path.join(dir, 'body');
  try {
    const status = await new Promise<number>((resolve, reject) =>
      execFile('curl', ['-sS', '--unix-socket', socket, '-D', headerFile, '-o', bodyFile, '-w', '%{http_code}', ...args], (err, stdout, stderr) =>
        err ? reject(new Error(`curl ${args.join(' ')} failed: ${stderr || err.message}`)) : resolve(Number(stdout)),
      ),
    );
    const headers: Record<string, string> = {};
    // The last header block is the final answer (after any 100 Continue).
    const blocks = fs.readFileSync(headerFile, 'utf8').trim().split(/\r?\n\r?\n/);
    for (const line of blocks.at(-1)!.split(/\r?\n/).slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const body = fs.existsSync(bodyFile) ? fs.readFileSync(bodyFile, 'utf8') : '';
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    return { status, headers, body, json };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
