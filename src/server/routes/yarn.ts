/**
 * The YARN NodeManager REST shapes (NMWebServices): /ws/v1/node/containers,
 * one container, its log files and their contents. YARN's `exitCode` is the
 * container's exit status (-1000 until known); the memory and vcores are the
 * request, without the executor allowance.
 */
import type { FastifyInstance } from 'fastify';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { badRequest, NodewardenError } from '../../core/errors.js';
import type { ContainerView } from '../../node/container-view.js';
import type { Caller } from '../../node/caller.js';
import type { NodeWarden } from '../../node/nodewarden.js';

type WithId = { Params: { id: string } };

/** NMWebServices' ContainerInfo. */
export interface YarnContainerInfo {
  id: string;
  state: string;
  exitCode: number;
  diagnostics: string;
  user: string;
  totalMemoryNeededMB: number;
  totalVCoresNeeded: number;
  executionType: string;
  containerLogsLink: string;
  nodeId: string;
  containerLogFiles: string[];
}

/** NMWebServices' ContainerLogFileInfo. */
export interface LogFileInfo {
  fileName: string;
  fileSize: number;
  lastModifiedTime: string;
}

/** The node's id as YARN writes it (host:port); there is no RPC port here. */
const NODE_ID = `${os.hostname()}:0`;

/** The files of a log directory, read off the event loop (a listing of every container costs a readdir and stats each). */
async function logFiles(logDir: string): Promise<LogFileInfo[]> {
  let names: string[];
  try {
    names = (await fsp.readdir(logDir)).sort();
  } catch {
    return [];
  }
  const files = await Promise.all(
    names.map(async (fileName) => {
      try {
        const st = await fsp.stat(path.join(logDir, fileName));
        return st.isFile() ? { fileName, fileSize: st.size, lastModifiedTime: st.mtime.toUTCString() } : null;
      } catch {
        return null; // removed while we listed it
      }
    }),
  );
  return files.filter((f): f is LogFileInfo => f !== null);
}

/** The bytes YARN's `size` selects of a file of `length` bytes, as inclusive offsets (end < start: none). */
export function byteRange(length: number, size: number): { start: number; end: number } {
  if (size < 0) return { start: Math.max(0, length + size), end: length - 1 };
  return { start: 0, end: Math.min(length, size) - 1 };
}

export async function yarnContainerInfo(view: ContainerView): Promise<YarnContainerInfo> {
  return {
    id: view.id,
    state: view.state,
    exitCode: view.exitStatus,
    diagnostics: view.diagnostics,
    user: view.user,
    totalMemoryNeededMB: view.resources.memoryMb,
    totalVCoresNeeded: view.resources.vcores,
    executionType: view.executionType,
    containerLogsLink: `http://localhost/ws/v1/node/containers/${view.id}/logs`,
    nodeId: NODE_ID,
    containerLogFiles: (await logFiles(view.logDir)).map((f) => f.fileName),
  };
}

/** YARN's own 404 text for a container it does not know. */
function yarnView(node: NodeWarden, id: string, caller: Caller): ContainerView {
  try {
    return node.view(id, caller);
  } catch (err) {
    if (err instanceof NodewardenError && err.status === 404) {
      throw new NodewardenError(404, 'NOT_FOUND', `container with id, ${id}, not found`);
    }
    throw err;
  }
}

export function yarnRoutes(app: FastifyInstance, node: NodeWarden): void {
  app.get('/ws/v1/node/containers', async (request) => {
    const container = await Promise.all(node.list(request.caller).map(yarnContainerInfo));
    // YARN's JAXB rendering: an empty list is an empty object.
    return { containers: container.length > 0 ? { container } : {} };
  });

  app.get<WithId>('/ws/v1/node/containers/:id', async (request) => ({ container: await yarnContainerInfo(yarnView(node, request.params.id, request.caller)) }));

  app.get<WithId>('/ws/v1/node/containers/:id/logs', async (request) => {
    const view = yarnView(node, request.params.id, request.caller);
    return [{ containerId: view.id, nodeId: NODE_ID, logAggregationType: 'LOCAL', containerLogInfo: await logFiles(view.logDir) }];
  });

  // Only a file listed in the container's log directory is served: the name is never a path.
  // YARN's `size`: N > 0 the first N bytes, N < 0 the last |N| bytes (a tail), absent the whole file.
  app.get<{ Params: { id: string; filename: string }; Querystring: { size?: string } }>('/ws/v1/node/containerlogs/:id/:filename', async (request, reply) => {
    const view = yarnView(node, request.params.id, request.caller);
    // An empty size is no size, as in YARN.
    const size = request.query.size === '' ? undefined : request.query.size;
    if (size !== undefined && !/^-?\d{1,15}$/.test(size)) throw badRequest(`size must be an integer number of bytes (negative: from the end), got ${JSON.stringify(size)}`);
    const file = (await logFiles(view.logDir)).find((f) => f.fileName === request.params.filename);
    if (!file) {
      throw new NodewardenError(404, 'NOT_FOUND', `container ${view.id} has no log file ${JSON.stringify(request.params.filename)}`);
    }
    const filePath = path.join(view.logDir, file.fileName);
    reply.type('text/plain; charset=utf-8');
    if (size === undefined) return reply.send(fs.createReadStream(filePath));
    const { start, end } = byteRange(file.fileSize, Number(size));
    return reply.send(end < start ? '' : fs.createReadStream(filePath, { start, end }));
  });
}
