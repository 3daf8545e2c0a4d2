/** A reader of ISO BMFF box trees for specs: sizes must add up exactly, or it throws. */
export interface Mp4Box {
  type: string;
  /** Offset of the box (its size field) in the buffer parsed. */
  start: number;
  /** The box's payload (after size and type). */
  body: Buffer;
  children: Mp4Box[];
}

/** Boxes whose payload is only child boxes. */
const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'dinf', 'mvex', 'moof', 'traf']);
/** Boxes whose children follow a fixed header of this many bytes. */
const WITH_HEADER: Record<string, number> = { stsd: 8, avc1: 78, mp4a: 28, dref: 8 };

export function parseBoxes(buffer: Buffer, base = 0): Mp4Box[] {
  const boxes: Mp4Box[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    if (buffer.length - offset < 8) throw new Error(`trailing ${buffer.length - offset} bytes at ${base + offset}`);
    const size = buffer.readUInt32BE(offset);
    const type = buffer.toString('latin1', offset + 4, offset + 8);
    if (size < 8 || offset + size > buffer.length) throw new Error(`box ${type} at ${base + offset} has size ${size}, ${buffer.length - offset} bytes left`);
    const body = buffer.subarray(offset + 8, offset + size);
    let children: Mp4Box[] = [];
    if (CONTAINERS.has(type)) children = parseBoxes(body, base + offset + 8);
    else if (WITH_HEADER[type] !== undefined) children = parseBoxes(body.subarray(WITH_HEADER[type]), base + offset + 8 + WITH_HEADER[type]);
    boxes.push({ type, start: base + offset, body, children });
    offset += size;
  }
  return boxes;
}

/** The first box along a path of types, e.g. find(boxes, 'moov', 'trak', 'mdia'). */
export function find(boxes: Mp4Box[], ...path: string[]): Mp4Box {
  let level = boxes;
  let found: Mp4Box | undefined;
  for (const type of path) {
    found = level.find((b) => b.type === type);
    if (!found) throw new Error(`no ${type} in [${level.map((b) => b.type).join(', ')}]`);
    level = found.children;
  }
  return found!;
}

export const all = (boxes: Mp4Box[], type: string) => boxes.filter((b) => b.type === type);
