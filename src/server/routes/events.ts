/**
 * GET /v1/events?since=SEQ&follow=true: the journal's transitions and kill
 * decisions as NDJSON (the inputs — samples above all — are for export). History is read
 * from the database a page at a time, at the pace the client reads; with
 * `follow` the stream then waits for commits. A commit only wakes it and the
 * next page is read from the database again, so a slow client holds no
 * backlog in memory and can never miss or repeat a record.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { gone } from '../../core/errors.js';
import type { Caller } from '../../node/caller.js';
import type { NodeWarden } from '../../node/nodewarden.js';

const PAGE = 500;

interface EventsQuery {
  since: number;
  follow: boolean;
}

/** The query as the handler uses it; its schema (eventsQuerySchema) has checked it. */
function parseQuery(query: { since?: string; follow?: string }): EventsQuery {
  const { since = '0', follow = 'false' } = query;
  return { since: Number(since), follow: follow === 'true' || follow === '1' || follow === '' };
}

/**
 * `stop` ends a followed stream: the daemon is closing or the client went
 * away. `who` is the caller now, asked again for each page: one taken out of
 * the admin group stops seeing others' containers in a stream they follow
 * (the lookup is cached 30 s); one the user database cannot tell any more
 * gets the end of the stream.
 */
async function* records(node: NodeWarden, { since, follow }: EventsQuery, stop: AbortSignal, who: () => Promise<Caller>): AsyncGenerator<string> {
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  if (follow) {
    node.bus.on('transitions', notify);
    stop.addEventListener('abort', notify);
  }
  try {
    let last = since;
    for (;;) {
      const page = node.outputsSince(last, PAGE);
      if (page.length > 0) {
        last = page.at(-1)!.seq;
        const caller = await who().catch(() => null);
        if (caller === null) return;
        // Another user's containers are not there for this caller (a forgotten one: not any more; an id used again: only the new one's).
        const seen = page.filter((record) => node.visibleTo(caller, record.container, record.ts));
        if (seen.length > 0) yield seen.map((record) => `${JSON.stringify(record)}\n`).join('');
        continue;
      }
      if (!follow || stop.aborted) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    node.bus.off('transitions', notify);
    stop.removeEventListener('abort', notify);
  }
}

/** The streams being served: the server ends them and waits for their last bytes before it closes. */
export interface OpenStreams {
  closing: AbortSignal;
  responses: Set<ServerResponse>;
}

export function eventRoutes(app: FastifyInstance, node: NodeWarden, open: OpenStreams): void {
  const { closing, responses } = open;
  app.get('/v1/events', async (request, reply) => {
    const query = parseQuery(request.query as { since?: string; follow?: string });
    // A reader that would silently miss transitions or kills is told instead (export refuses such a --since too).
    const through = node.outputsPrunedThrough();
    if (query.since > 0 && through !== null && query.since < through) {
      throw gone(
        `records after seq ${query.since} up to seq ${through} are gone: the journal was pruned to its retention window (nodewarden.journal.retention-hours). Read from since=${through}, or without since`,
      );
    }
    // Ends the stream when the client goes or the daemon closes (one listener each, removed with the stream).
    const stop = new AbortController();
    const end = () => stop.abort();
    const res = reply.raw;
    closing.addEventListener('abort', end, { once: true });
    res.once('close', () => {
      responses.delete(res);
      closing.removeEventListener('abort', end);
      end();
    });
    if (res.destroyed || closing.aborted) end();
    else responses.add(res);
    return reply.type('application/x-ndjson').header('cache-control', 'no-store').send(Readable.from(records(node, query, stop.signal, request.identifyAgain)));
  });
}
