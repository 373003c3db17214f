/** SPEC §6 container routes: launch, list, view, kill, pause, resume, transitions. */
import type { FastifyInstance } from 'fastify';
import type { NodeWarden } from '../../node/nodewarden.js';

type WithId = { Params: { id: string } };

/** One row of GET /v1/containers/:id/transitions. */
export interface TransitionRow {
  seq: number;
  ts: number;
  from: string;
  to: string;
  /** The event's type (the whole event is in /v1/events). */
  event: string;
}

export function containerRoutes(app: FastifyInstance, node: NodeWarden): void {
  // 201 for a new container, 200 for the same request again (idempotent per id), 409 for a different one.
  app.post('/v1/containers', async (request, reply) => {
    const { view, created } = await node.launch(request.body, request.caller);
    return reply.code(created ? 201 : 200).send(view);
  });

  app.get('/v1/containers', async (request) => ({ containers: node.list(request.caller) }));

  app.get<WithId>('/v1/containers/:id', async (request) => node.view(request.params.id, request.caller));

  // Asynchronous: the request is durable and the machine has moved (KILLING, PAUSING, RESUMING); the process follows.
  app.post<WithId>('/v1/containers/:id/kill', async (request, reply) => reply.code(202).send(await node.kill(request.params.id, request.caller)));
  app.post<WithId>('/v1/containers/:id/pause', async (request, reply) => reply.code(202).send(await node.pause(request.params.id, request.caller)));
  app.post<WithId>('/v1/containers/:id/resume', async (request, reply) => reply.code(202).send(await node.resume(request.params.id, request.caller)));

  app.get<WithId>('/v1/containers/:id/transitions', async (request): Promise<TransitionRow[]> =>
    (await node.transitions(request.params.id, request.caller)).map((t) => ({ seq: t.seq, ts: t.ts, from: t.from, to: t.to, event: t.event.type })),
  );
}
