/**
 * A small client for the socket API (node:http over the Unix socket): what
 * the CLI uses, and what a launcher written in Node can use. API errors come
 * back as ApiError with the daemon's code and message; a daemon that is not
 * there is an UnreachableError that says so.
 */
import http from 'node:http';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class UnreachableError extends Error {
  override name = 'UnreachableError';
  constructor(
    readonly socketPath: string,
    cause: NodeJS.ErrnoException,
  ) {
    super(
      cause.code === 'EACCES'
        ? `cannot reach nodewarden at ${socketPath}: permission denied (the socket is mode 0660: run as its owner or a member of its group)`
        : `cannot reach nodewarden at ${socketPath}: is it running?`,
    );
  }
}

/** Connection errors that mean "no daemon there" (or not ours to reach). */
const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK', 'ENOTDIR', 'ENAMETOOLONG', 'ECONNRESET']);

/** An error answer: the daemon's `{"error":{"code","message"}}`, or what came instead. */
function apiError(status: number, text: string): ApiError {
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
  } catch {
    error = undefined;
  }
  return new ApiError(status, error?.code ?? `HTTP_${status}`, error?.message ?? `nodewarden answered ${status}: ${text}`);
}

export interface ClientOptions {
  /** Keep connections open between requests (for many requests in a row). */
  keepAlive?: boolean;
  /** Give up on a request (not a stream) with no answer after this long; default: wait. */
  timeoutMs?: number;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class NodewardenClient {
  private readonly agent: http.Agent;
  private readonly timeoutMs: number | undefined;

  constructor(
    readonly socketPath: string,
    opts: ClientOptions = {},
  ) {
    this.agent = new http.Agent({ keepAlive: opts.keepAlive ?? false });
    this.timeoutMs = opts.timeoutMs;
  }

  /** One request; resolves with the parsed JSON body of a 2xx answer. */
  request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.send(method, path, body, parseJson) as Promise<T>;
  }

  /** A GET whose 2xx answer is text (a container's log file). */
  getText(path: string): Promise<string> {
    return this.send('GET', path, undefined, (text) => text) as Promise<string>;
  }

  private send(method: string, path: string, body: unknown, parse: (text: string) => unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        {
          socketPath: this.socketPath,
          agent: this.agent,
          method,
          path,
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(parse(text));
            reject(apiError(status, text));
          });
        },
      );
      req.on('error', (err) => reject(this.connectionError(err)));
      if (this.timeoutMs !== undefined) {
        const ms = this.timeoutMs;
        req.setTimeout(ms, () => req.destroy(new Error(`nodewarden at ${this.socketPath} did not answer within ${ms / 1000}s`)));
      }
      req.end(payload);
    });
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /**
   * An NDJSON stream (GET /v1/events): `onRecord` for each line, resolving
   * when the daemon ends the stream. `signal` stops it from this side.
   */
  stream(path: string, onRecord: (record: unknown) => void, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = http.get({ socketPath: this.socketPath, agent: this.agent, path, signal }, (res) => {
        const status = res.statusCode ?? 0;
        let buffered = '';
        res.setEncoding('utf8');
        if (status < 200 || status >= 300) {
          res.on('data', (c: string) => (buffered += c));
          res.on('end', () => reject(apiError(status, buffered)));
          return;
        }
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf('\n')) !== -1) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (line.trim() === '') continue;
            let record: unknown;
            try {
              record = JSON.parse(line);
            } catch {
              req.destroy();
              return reject(new Error(`nodewarden sent a line that is not JSON: ${line.slice(0, 200)}`));
            }
            onRecord(record);
          }
        });
        res.on('end', () => resolve());
        res.on('error', (err) => (signal?.aborted ? resolve() : reject(err)));
      });
      req.on('error', (err) => (signal?.aborted ? resolve() : reject(this.connectionError(err))));
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private connectionError(err: NodeJS.ErrnoException): Error {
    if (err.code !== undefined && UNREACHABLE.has(err.code)) {
      return new UnreachableError(this.socketPath, err);
    }
    return err;
  }
}
