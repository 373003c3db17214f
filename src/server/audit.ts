/**
 * The audit log, in the manner of YARN's NMAuditLogger: every write the API
 * answers — accepted or refused — is one line naming the user, the
 * operation, the target and the result, with the caller's credentials as
 * the kernel gave them.
 *
 *   USER=alice  OPERATION=Start Container Request  TARGET=ContainerManagerImpl  RESULT=SUCCESS  CONTAINERID=c1
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** YARN's operation names (NMAuditLogger.AuditConstants), by route. */
const OPERATIONS: Record<string, string> = {
  'POST /v1/containers': 'Start Container Request',
  'POST /v1/containers/:id/kill': 'Stop Container Request',
  'POST /v1/containers/:id/pause': 'Pause Container Request',
  'POST /v1/containers/:id/resume': 'Resume Container Request',
};

function containerOf(request: FastifyRequest, reply: { statusCode: number }, body: unknown): string | undefined {
  const id = (request.params as { id?: string } | undefined)?.id;
  if (id !== undefined) return id;
  if (reply.statusCode < 300 && typeof body === 'object' && body !== null) return (body as { id?: string }).id;
  const asked = (request.body as { id?: unknown } | undefined)?.id;
  return typeof asked === 'string' ? asked : undefined;
}

export function auditRequest(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const operation = OPERATIONS[`${request.method} ${request.routeOptions.url ?? ''}`];
    if (operation === undefined || !request.caller) return payload;
    let body: unknown;
    try {
      body = typeof payload === 'string' ? JSON.parse(payload) : undefined;
    } catch {
      body = undefined;
    }
    const { uid, gid, pid, user } = request.caller;
    const ok = reply.statusCode < 300;
    const container = containerOf(request, reply, body);
    const line = {
      audit: true,
      caller: { uid, gid, pid },
      user: user ?? `uid ${uid}`,
      operation,
      target: 'ContainerManagerImpl',
      result: ok ? 'SUCCESS' : 'FAILURE',
      ...(container !== undefined ? { container } : {}),
      ...(ok ? {} : { status: reply.statusCode, description: (body as { error?: { message?: string } } | undefined)?.error?.message }),
    };
    request.log.info(line, `USER=${line.user}\tOPERATION=${operation}\tTARGET=ContainerManagerImpl\tRESULT=${line.result}${container !== undefined ? `\tCONTAINERID=${container}` : ''}`);
    return payload;
  });
}
