/**
 * Errors the core gives back for bad input. Each carries the HTTP status and
 * code the API answers with; none of them changes any state.
 */
export type ErrorStatus = 400 | 403 | 404 | 405 | 409 | 410 | 413 | 429 | 500 | 503;

export class NodewardenError extends Error {
  constructor(
    readonly status: ErrorStatus,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'NodewardenError';
  }
}

export const badRequest = (message: string) => new NodewardenError(400, 'BAD_REQUEST', message);
export const notFound = (id: string) => new NodewardenError(404, 'NOT_FOUND', `container ${id} not found`);
export const conflict = (message: string) => new NodewardenError(409, 'CONFLICT', message);
export const forbidden = (message: string) => new NodewardenError(403, 'FORBIDDEN', message);
/** What was asked for existed once and was pruned (the journal before its retention window). */
export const gone = (message: string) => new NodewardenError(410, 'GONE', message);
/** This caller's user is at a limit of theirs (nodewarden.user-limits.*); the same request may succeed once one of their containers is done. */
export const tooMany = (message: string) => new NodewardenError(429, 'USER_LIMIT', message);
/** The node cannot take the request now (a limit, a store fault); the same request may succeed later. */
export const unavailable = (code: string, message: string) => new NodewardenError(503, code, message);

/** The daemon cannot start: another one holds its socket or database, or a path is unsafe. */
export class StartupError extends Error {
  override name = 'StartupError';
}
