/**
 * The front of a simulated provider that declares `refuse` faults: a TCP pass-through on the
 * provider's public port to its HTTP listener, which can stop listening (connections are
 * then refused, and open ones are cut) and listen again on the same port.
 *
 * Why not close and re-bind the HTTP listener itself: the uWS engine binds without
 * SO_REUSEADDR, so after it closed connections (which leaves them in TIME_WAIT) the port
 * cannot be bound again for a minute. Node's listeners set SO_REUSEADDR. The pass-through
 * costs a little latency, only on providers that declare `refuse`.
 */
import net from 'node:net';

export interface RefuseGate {
  readonly port: number;
  /** Refuse (true) or accept (false) connections from now on. */
  setRefusing(refusing: boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startRefuseGate(host: string, targetPort: number, port: number): Promise<RefuseGate> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect(targetPort, host);
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    const done = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(port);
  const bound = (server.address() as net.AddressInfo).port;
  let refusing = false;
  return {
    port: bound,
    async setRefusing(r) {
      if (r === refusing) return;
      refusing = r;
      if (r) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
          sockets.clear();
        });
      } else {
        await listen(bound);
      }
    },
    async close() {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
