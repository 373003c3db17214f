/**
 * The audit log, in the manner of YARN's NMAuditLogger: every write the API
 * answers — accepted or refused — is one line naming the user, the
 * operation, the target and the result, with the caller's credentials as
 * the kernel gave them (null when they could not be known: such a request
 * is refused, and logged all the same).
 *
 *   USER=alice  OPERATION=Start Container Request  TARGET=ContainerManagerImpl  RESULT=SUCCESS  CONTAINERID=c1
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';

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

/** A field of the tab-separated message as it came (an id is checked only after this may run): quoted when it is not a plain name, so that it cannot forge another field. */
function field(value: string): string {
  return /^[A-Za-z0-9._@-]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * `log`: the daemon's; audit lines are at info even when the daemon logs at
 * warn or above (YARN keeps its audit logger apart for the same reason), and
 * only a silent daemon drops them.
 */
export function auditRequest(app: FastifyInstance, log: FastifyBaseLogger): void {
  const audit = log.child({ component: 'audit' }, { level: log.level === 'silent' ? 'silent' : 'info' });
  app.addHook('onSend', async (request, reply, payload) => {
    const operation = OPERATIONS[`${request.method} ${request.routeOptions.url ?? ''}`];
    if (operation === undefined) return payload;
    let body: unknown;
    try {
      body = typeof payload === 'string' ? JSON.parse(payload) : undefined;
    } catch {
      body = undefined;
    }
    // No caller: refused before anyone was known (credentials unreadable, or the user database failing).
    const caller = request.caller ?? null;
    const ok = reply.statusCode < 300;
    const container = containerOf(request, reply, body);
    const line = {
      audit: true,
      caller: caller && { uid: caller.uid, gid: caller.gid, pid: caller.pid },
      user: caller === null ? 'unknown' : (caller.user ?? `uid ${caller.uid}`),
      operation,
      target: 'ContainerManagerImpl',
      result: ok ? 'SUCCESS' : 'FAILURE',
      ...(container !== undefined ? { container } : {}),
      ...(ok ? {} : { status: reply.statusCode, description: (body as { error?: { message?: string } } | undefined)?.error?.message }),
    };
    audit.info(
      { ...line, reqId: request.id },
      `USER=${field(line.user)}\tOPERATION=${operation}\tTARGET=ContainerManagerImpl\tRESULT=${line.result}${container !== undefined ? `\tCONTAINERID=${field(container)}` : ''}`,
    );
    return payload;
  });
}
