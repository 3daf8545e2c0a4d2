import { createSocket as createDgramSocket, Socket as UdpSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** A free TCP port on loopback, for a child process that must not be reachable from outside. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A UDP socket bound to `host:port` (0: any free port), once it is bound; rejects on a bind error. */
export function bindUdpSocket(host: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createDgramSocket('udp4');
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** A free UDP port on loopback (bound, then released), for a child process that must not be reachable from outside. */
export async function freeLoopbackUdpPort(): Promise<number> {
  const socket = await bindUdpSocket('127.0.0.1', 0);
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
