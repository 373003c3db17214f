/**
 * The daemon as `nodewarden start` runs it: a NodeWarden serving the socket
 * API. The socket is checked before anything else starts, so a second daemon
 * refuses at once and touches nothing; the database lock is taken next.
 */
import { NodeWarden, type NodeWardenOptions } from './node/nodewarden.js';
import { ApiServer, type ApiServerOptions } from './server/api-server.js';
import { MetricsServer } from './server/metrics-server.js';
import { checkAccess, claimSocket, shareableSocketDir } from './server/socket-file.js';

export interface DaemonOptions extends NodeWardenOptions, ApiServerOptions {
  socketPath: string;
}

export class Daemon {
  private closing: Promise<void> | null = null;

  /** Prometheus over TCP (null: nodewarden.metrics.address is empty), and the port it bound. */
  metrics: { server: MetricsServer; port: number } | null = null;

  private constructor(
    readonly node: NodeWarden,
    readonly server: ApiServer,
    readonly socketPath: string,
  ) {}

  static async start(opts: DaemonOptions): Promise<Daemon> {
    // The groups and users the sharing keys name must exist before anything is touched.
    const gid = await checkAccess(opts.config.access);
    if (gid !== null) shareableSocketDir(opts.socketPath, opts.workDir);
    if (await claimSocket(opts.socketPath)) {
      opts.log?.warn({ socket: opts.socketPath }, 'replaced a stale socket left by a nodewarden that did not stop cleanly');
    }
    const node = new NodeWarden(opts);
    let server: ApiServer;
    try {
      server = new ApiServer(node, opts);
    } catch (err) {
      await node.close({ keepContainers: true });
      throw err;
    }
    const daemon = new Daemon(node, server, opts.socketPath);
    try {
      // The start record and what recovery decided are durable before the first request.
      await node.durable();
      // The metrics port first: one that cannot be had fails the start before the socket is served.
      const address = opts.config.metricsAddress;
      if (address) {
        // Set before it listens, so that the close below closes it too when it cannot.
        daemon.metrics = { server: new MetricsServer(node, server.metrics), port: 0 };
        daemon.metrics.port = await daemon.metrics.server.listen(address);
      }
      await server.listen(opts.socketPath, gid);
    } catch (err) {
      // A start that failed kills nothing, even when not supervised.
      await daemon.close({ keepContainers: true });
      throw err;
    }
    return daemon;
  }

  /** Stop serving (followed event streams end), then commit and close the database. */
  close(opts: { keepContainers?: boolean } = {}): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.metrics?.server.close();
      } finally {
        try {
          await this.server.close();
        } finally {
          // Whatever happened to the servers, commit and release the database.
          await this.node.close(opts);
        }
      }
    })();
    return this.closing;
  }
}
