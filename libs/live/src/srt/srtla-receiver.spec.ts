import { randomBytes } from 'node:crypto';
import { RemoteInfo, Socket } from 'node:dgram';
import { bindUdpSocket } from '@gw/common';
import { reg, regId, SRTLA, srtlaType } from '@gw/uplink';
import { SrtlaReceiver } from './srtla-receiver';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An SRT data packet (bit 31 clear) with this sequence number. */
const data = (sequence: number) => {
  const packet = Buffer.alloc(188 + 16);
  packet.writeUInt32BE(sequence, 0);
  return packet;
};
/** An SRT control packet of this type (2 ACK, 3 NAK). */
const control = (type: number) => {
  const packet = Buffer.alloc(20);
  packet.writeUInt16BE(0x8000 | type, 0);
  return packet;
};

/** A socket that keeps what it receives. */
async function endpoint(): Promise<{ socket: Socket; got: { packet: Buffer; from: RemoteInfo }[] }> {
  const socket = await bindUdpSocket('127.0.0.1', 0);
  const got: { packet: Buffer; from: RemoteInfo }[] = [];
  socket.on('message', (packet, from) => got.push({ packet, from }));
  return { socket, got };
}

/**
 * The SRTLA receiver's replies, with raw sockets for two links of one sender
 * and for the SRT listener: SRT ACKs go to every link, everything else (NAKs)
 * to one link only, the one that last brought new data; a link that only
 * brings copies of what the other brought is counted as redundancy.
 */
describe('SrtlaReceiver', () => {
  let receiver: SrtlaReceiver;
  const sockets: Socket[] = [];

  afterEach(async () => {
    await receiver?.stop();
    for (const s of sockets.splice(0)) s.close();
  });

  it('sends SRT ACKs to every link and NAKs only to the link that last brought new data; copies count as redundancy', async () => {
    const srt = await endpoint();
    const port = (srt.socket.address() as { port: number }).port;
    const probe = await bindUdpSocket('127.0.0.1', 0);
    const srtlaPort = (probe.address() as { port: number }).port;
    probe.close();
    receiver = new SrtlaReceiver({ port: srtlaPort, bind: '127.0.0.1', srt: { host: '127.0.0.1', port }, logger: quiet });
    await receiver.start();
    const [a, b] = [await endpoint(), await endpoint()];
    sockets.push(srt.socket, a.socket, b.socket);
    const send = (to: { socket: Socket }, packet: Buffer) => to.socket.send(packet, srtlaPort, '127.0.0.1');
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 50 && !what(); i++) await sleep(20);
      expect(what()).toBe(true);
    };

    send(a, reg(SRTLA.REG1, randomBytes(256)));
    await until(() => a.got.some((g) => srtlaType(g.packet) === SRTLA.REG2));
    const groupId = Buffer.from(regId(a.got.find((g) => srtlaType(g.packet) === SRTLA.REG2)!.packet)!);
    send(a, reg(SRTLA.REG2, groupId));
    send(b, reg(SRTLA.REG2, groupId));
    await until(() => [a, b].every((l) => l.got.some((g) => srtlaType(g.packet) === SRTLA.REG3)));

    // a carries 1-20; b repeats every 5th (copies), after a brought it.
    for (let seq = 1; seq <= 20; seq++) {
      send(a, data(seq));
      await sleep(2);
      if (seq % 5 === 0) send(b, data(seq));
      await sleep(2);
    }
    await until(() => srt.got.length >= 24);
    const upstream = srt.got[0].from;
    const before = { a: a.got.length, b: b.got.length };
    srt.socket.send(control(2), upstream.port, upstream.address);
    srt.socket.send(control(3), upstream.port, upstream.address);
    await until(() => a.got.length >= before.a + 2 && b.got.length >= before.b + 1);
    await sleep(100);
    const controlTypes = (l: typeof a, from: number) => l.got.slice(from).filter((g) => srtlaType(g.packet) === undefined).map((g) => g.packet.readUInt16BE(0) & 0x7fff);
    expect(controlTypes(a, before.a)).toEqual([2, 3]);
    expect(controlTypes(b, before.b)).toEqual([2]);

    const links = receiver.groups()[0].links;
    const [la, lb] = [links.find((l) => l.duplicatePct < 50)!, links.find((l) => l.duplicatePct >= 50)!];
    expect(la.duplicatePct).toBe(20);
    expect(lb.duplicatePct).toBe(100);
  });
});
