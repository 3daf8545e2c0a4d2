import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';

const MAGIC_COOKIE = 0x2112a442;

/** A STUN Binding request (RFC 5389, no attributes) with a fresh transaction id. */
function bindingRequest(): { packet: Buffer; transactionId: Buffer } {
  const transactionId = randomBytes(12);
  const packet = Buffer.alloc(20);
  packet.writeUInt16BE(0x0001, 0);
  packet.writeUInt16BE(0, 2);
  packet.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(packet, 8);
  return { packet, transactionId };
}

/** True for a Binding success response to `transactionId`. */
function isBindingSuccess(data: Buffer, transactionId: Buffer): boolean {
  return data.length >= 20 && data.readUInt16BE(0) === 0x0101 && data.readUInt32BE(4) === MAGIC_COOKIE && data.subarray(8, 20).equals(transactionId);
}

/**
 * Asks a STUN server for a Binding over UDP or TCP and resolves true when it
 * answers within `timeoutMs`: the signal that a TURN server really serves that
 * port (a listener line in its log says it opened, this says it answers).
 */
export function stunAnswers(host: string, port: number, protocol: 'udp' | 'tcp', timeoutMs = 500): Promise<boolean> {
  const { packet, transactionId } = bindingRequest();
  return new Promise((resolve) => {
    let done = false;
    let close = () => undefined as void;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      close();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    if (protocol === 'udp') {
      const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      close = () => socket.close();
      socket.on('error', () => finish(false));
      socket.on('message', (data) => finish(isBindingSuccess(data, transactionId)));
      socket.send(packet, port, host);
    } else {
      const socket = connect({ host, port });
      close = () => socket.destroy();
      let received = Buffer.alloc(0);
      socket.on('error', () => finish(false));
      socket.on('connect', () => socket.write(packet));
      socket.on('data', (data) => {
        received = Buffer.concat([received, data]);
        if (received.length >= 20) finish(isBindingSuccess(received, transactionId));
      });
    }
  });
}
