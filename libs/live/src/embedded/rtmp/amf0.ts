/**
 * AMF0 (Action Message Format 0), the encoding of RTMP command messages
 * (`connect`, `createStream`, `publish`, `play`, their `_result`s). Pure.
 *
 * Why our own: the origin front (rtmp-front.ts) must read a client's commands and
 * then hand the connection's raw bytes on untouched; no maintained npm RTMP library
 * parses without also owning the connection, and node-media-server's own AMF code is
 * not a public API. Only what RTMP commands use is covered; AMF3 (the `0x11` switch)
 * is refused.
 */

export type Amf0Value = number | boolean | string | null | undefined | Date | Amf0Value[] | { [key: string]: Amf0Value };

const enum Marker {
  Number = 0x00,
  Boolean = 0x01,
  String = 0x02,
  Object = 0x03,
  Null = 0x05,
  Undefined = 0x06,
  Reference = 0x07,
  EcmaArray = 0x08,
  ObjectEnd = 0x09,
  StrictArray = 0x0a,
  Date = 0x0b,
  LongString = 0x0c,
  Unsupported = 0x0d,
  Xml = 0x0f,
  TypedObject = 0x10,
  AvmPlus = 0x11,
}

export class Amf0Error extends Error {}

/** Reads AMF0 values one after another from a buffer. */
class Amf0Reader {
  #offset = 0;
  readonly #objects: Amf0Value[] = [];

  constructor(private readonly buffer: Buffer) {}

  get done(): boolean {
    return this.#offset >= this.buffer.length;
  }

  value(): Amf0Value {
    const marker = this.#u8();
    switch (marker) {
      case Marker.Number:
        return this.#take(8).readDoubleBE(0);
      case Marker.Boolean:
        return this.#u8() !== 0;
      case Marker.String:
        return this.#utf8(this.#u16());
      case Marker.LongString:
      case Marker.Xml:
        return this.#utf8(this.#u32());
      case Marker.Null:
      case Marker.Unsupported:
        return null;
      case Marker.Undefined:
        return undefined;
      case Marker.Object:
        return this.#properties({});
      case Marker.TypedObject:
        this.#utf8(this.#u16()); // class name
        return this.#properties({});
      case Marker.EcmaArray:
        this.#u32(); // approximate count; the end marker decides
        return this.#properties({});
      case Marker.StrictArray: {
        const count = this.#u32();
        const list: Amf0Value[] = [];
        this.#objects.push(list);
        for (let i = 0; i < count; i++) list.push(this.value());
        return list;
      }
      case Marker.Date: {
        const ms = this.#take(8).readDoubleBE(0);
        this.#take(2); // time zone, unused by the format's own definition
        return new Date(ms);
      }
      case Marker.Reference: {
        const index = this.#u16();
        if (index >= this.#objects.length) throw new Amf0Error(`AMF0 reference ${index} to no object`);
        return this.#objects[index];
      }
      case Marker.AvmPlus:
        throw new Amf0Error('AMF3 values are not supported');
      default:
        throw new Amf0Error(`unknown AMF0 marker 0x${marker.toString(16)}`);
    }
  }

  #properties(target: { [key: string]: Amf0Value }): { [key: string]: Amf0Value } {
    this.#objects.push(target);
    for (;;) {
      const key = this.#utf8(this.#u16());
      if (key === '') {
        const end = this.#u8();
        if (end !== Marker.ObjectEnd) throw new Amf0Error('AMF0 object without its end marker');
        return target;
      }
      target[key] = this.value();
    }
  }

  #take(n: number): Buffer {
    if (this.#offset + n > this.buffer.length) throw new Amf0Error('AMF0 value runs past the message');
    const out = this.buffer.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  #u8(): number {
    return this.#take(1)[0];
  }

  #u16(): number {
    return this.#take(2).readUInt16BE(0);
  }

  #u32(): number {
    return this.#take(4).readUInt32BE(0);
  }

  #utf8(length: number): string {
    return this.#take(length).toString('utf8');
  }
}

/** Every value in `buffer`, in order (a command message is a sequence of them). */
export function decodeAmf0(buffer: Buffer): Amf0Value[] {
  const reader = new Amf0Reader(buffer);
  const values: Amf0Value[] = [];
  while (!reader.done) values.push(reader.value());
  return values;
}

/** Encodes values one after another; objects keep their key order. */
export function encodeAmf0(...values: Amf0Value[]): Buffer {
  const parts: Buffer[] = [];
  const u16 = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n);
    return b;
  };
  const key = (s: string) => {
    const bytes = Buffer.from(s, 'utf8');
    parts.push(u16(bytes.length), bytes);
  };
  const write = (value: Amf0Value): void => {
    if (typeof value === 'number') {
      const b = Buffer.alloc(9);
      b[0] = Marker.Number;
      b.writeDoubleBE(value, 1);
      parts.push(b);
    } else if (typeof value === 'boolean') {
      parts.push(Buffer.from([Marker.Boolean, value ? 1 : 0]));
    } else if (typeof value === 'string') {
      const bytes = Buffer.from(value, 'utf8');
      if (bytes.length > 0xffff) {
        const head = Buffer.alloc(5);
        head[0] = Marker.LongString;
        head.writeUInt32BE(bytes.length, 1);
        parts.push(head, bytes);
      } else parts.push(Buffer.from([Marker.String]), u16(bytes.length), bytes);
    } else if (value === null) {
      parts.push(Buffer.from([Marker.Null]));
    } else if (value === undefined) {
      parts.push(Buffer.from([Marker.Undefined]));
    } else if (value instanceof Date) {
      const b = Buffer.alloc(11);
      b[0] = Marker.Date;
      b.writeDoubleBE(value.getTime(), 1);
      parts.push(b);
    } else if (Array.isArray(value)) {
      const head = Buffer.alloc(5);
      head[0] = Marker.StrictArray;
      head.writeUInt32BE(value.length, 1);
      parts.push(head);
      for (const item of value) write(item);
    } else {
      parts.push(Buffer.from([Marker.Object]));
      for (const [k, v] of Object.entries(value)) {
        key(k);
        write(v);
      }
      parts.push(Buffer.from([0, 0, Marker.ObjectEnd]));
    }
  };
  for (const value of values) write(value);
  return Buffer.concat(parts);
}

/** An RTMP command: its name, transaction id, command object and further arguments. */
export interface RtmpCommand {
  name: string;
  transactionId: number;
  object: Amf0Value;
  args: Amf0Value[];
}

/** Reads a command message's payload (AMF0; the payload of an AMF3 command message without its leading 0 byte). */
export function decodeCommand(payload: Buffer): RtmpCommand {
  const [name, transactionId, object, ...args] = decodeAmf0(payload);
  if (typeof name !== 'string') throw new Amf0Error('command message without a name');
  return { name, transactionId: typeof transactionId === 'number' ? transactionId : 0, object: object ?? null, args };
}
