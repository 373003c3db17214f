#!/usr/bin/env node
// A launcher in plain Node (no dependencies) that drives nodewarden over its
// socket, the way a scheduler or CI runner would:
//   1. launch a container (POST /v1/containers),
//   2. follow its transitions as they are committed (GET /v1/events?follow=true),
//   3. when it is DONE, read its final view and the end of its stderr,
//   4. exit with the container's exit code (1 if it was killed).
//
//   node examples/launcher.mjs [--socket PATH] [--memory-mb N] [--vcores N] -- CMD ARGS...
//   node examples/launcher.mjs -- sh -c 'echo hello from a container'
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: {
    socket: { type: 'string', default: process.env.NODEWARDEN_SOCKET ?? 'var/nodewarden.sock' },
    'memory-mb': { type: 'string', default: '256' },
    vcores: { type: 'string', default: '1' },
  },
  allowPositionals: true,
});
const command = positionals.length > 0 ? positionals : ['sh', '-c', 'echo hello from a container'];

/** One HTTP request over the Unix socket; resolves with the parsed JSON, rejects with the API's error message. */
function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ socketPath: values.socket, method, path, headers: payload ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        if (res.headers['content-type']?.startsWith('text/plain')) return resolve(text);
        const parsed = text === '' ? undefined : JSON.parse(text);
        if (res.statusCode >= 400) reject(new Error(`${res.statusCode} ${parsed?.error?.code}: ${parsed?.error?.message}`));
        else resolve(parsed);
      });
    });
    req.on('error', (err) => reject(new Error(`cannot reach nodewarden at ${values.socket}: ${err.message}`)));
    req.end(payload);
  });
}

/**
 * Calls onRecord for each NDJSON record of a followed stream until it returns
 * true; then the stream is closed. A stream that ends first (the daemon
 * stopped) is an error: what happened next is not known here.
 */
function follow(path, onRecord) {
  return new Promise((resolve, reject) => {
    let done = false;
    const req = http.get({ socketPath: values.socket, path }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`the event stream answered ${res.statusCode}`));
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buffered += chunk;
        let nl;
        while (!done && (nl = buffered.indexOf('\n')) !== -1) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line === '') continue;
          try {
            done = onRecord(JSON.parse(line));
          } catch (err) {
            done = true;
            req.destroy();
            return reject(new Error(`a bad record in the event stream: ${err.message}`));
          }
          if (done) {
            req.destroy();
            resolve();
          }
        }
      });
      res.on('end', () => done || reject(new Error('the event stream ended before the container was DONE (did nodewarden stop?)')));
    });
    req.on('error', (err) => done || reject(new Error(`cannot follow the events at ${values.socket}: ${err.message}`)));
  });
}

try {
  const body = { command, resources: { memoryMb: Number(values['memory-mb']), vcores: Number(values.vcores) } };
  const launched = await request('POST', '/v1/containers', body);
  console.log(`launched ${launched.id}: ${command.join(' ')}`);
  // Follow the journal from just before the container's first transition: nothing it did is missed.
  const [first] = await request('GET', `/v1/containers/${launched.id}/transitions`);
  const since = first.seq - 1;

  await follow(`/v1/events?since=${since}&follow=true`, (r) => {
    if (r.container !== launched.id) return false;
    if (r.type === 'kill') console.log(`  killed by the ${r.by}: ${r.diagnostics.split('\n')[0]}`);
    else console.log(`  ${r.from} → ${r.to} (${r.event.type})`);
    return r.type === 'transition' && r.to === 'DONE';
  });

  const view = await request('GET', `/v1/containers/${launched.id}`);
  const stderr = await request('GET', `/ws/v1/node/containerlogs/${launched.id}/stderr?size=-2048`).catch(() => '');
  console.log(`${view.id} finished: exit status ${view.exitStatus}, exit code ${view.exitCode}`);
  if (stderr.trim() !== '') console.log(`stderr ends with:\n${stderr.trimEnd()}`);
  process.exitCode = view.exitStatus < 0 ? 1 : view.exitCode;
} catch (err) {
  console.error(`launcher: ${err.message}`);
  process.exitCode = 1;
}
