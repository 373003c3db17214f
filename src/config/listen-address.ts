/**
 * A TCP listen address, `HOST:PORT`, as Prometheus's own `--web.listen-address`
 * takes it: a host name, an IPv4 address, or an IPv6 address in brackets;
 * port 0–65535. What the key `nodewarden.metrics.address` holds.
 */
import net from 'node:net';

export interface ListenAddress {
  host: string;
  port: number;
}

const FORM = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/** The address, or null when it is not HOST:PORT. */
export function parseListenAddress(text: string): ListenAddress | null {
  const m = FORM.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  const v6 = m[1];
  if (v6 !== undefined) return net.isIPv6(v6) ? { host: v6, port } : null;
  return { host: m[2]!, port };
}

/** Loopback only (127.0.0.0/8, ::1, localhost): what nobody else on the network can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
