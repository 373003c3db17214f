/**
 * Container diagnostics as YARN's ContainerImpl.addDiagnostics keeps them: each
 * message stamped `[yyyy-MM-dd HH:mm:ss.SSS]` and the whole trimmed from the
 * front to the configured maximum. The stamp is UTC and comes from the event's
 * time, so a replay on another machine writes the same text.
 */
export function diagnosticsStamp(ts: number): string {
  const d = new Date(ts);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`
  );
}

export function appendDiagnostics(current: string, message: string, ts: number, maxSize: number): string {
  if (message === '') return current;
  const entry = `[${diagnosticsStamp(ts)}] ${message}${message.endsWith('\n') ? '' : '\n'}`;
  const next = current + entry;
  return next.length > maxSize ? next.slice(next.length - maxSize) : next;
}
