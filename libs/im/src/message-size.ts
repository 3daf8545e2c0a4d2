/**
 * Socket message size limits (docs/signalling.md, "Message size").
 *
 * Two limits, because socket.io's own one (`maxHttpBufferSize`, enforced by
 * the transport before anything is decoded) can only close the connection: it
 * has no packet to answer. So the transport's limit is set high (the hard
 * limit), and events above the working limit are answered on their ack with
 * PAYLOAD_TOO_LARGE, as the contract promises an ack for every request.
 */

/** Largest event the handlers see (media:* payloads are a few kB; rtpCapabilities the largest). */
export const MAX_EVENT_BYTES = 64 * 1024;

/** Payloads up to this size are still answered (with PAYLOAD_TOO_LARGE when over MAX_EVENT_BYTES). */
export const ANSWERED_PAYLOAD_BYTES = 1024 * 1024;

/**
 * The transport's limit (socket.io `maxHttpBufferSize`): a message larger than
 * this on the wire closes the connection. 1 MiB of payload plus 4 KiB for the
 * event name, ack id and packet framing.
 */
export const HARD_MESSAGE_BYTES = ANSWERED_PAYLOAD_BYTES + 4 * 1024;

/**
 * Whether `value` (a decoded socket.io event: its name and arguments) is
 * larger than `limit` bytes as JSON text (UTF-8; string escapes are not
 * counted), binary attachments by their byte length. Pure.
 *
 * Walks the value instead of serialising it: no copy of a large payload is
 * made for every event, and the walk stops as soon as the limit is passed.
 * Iterative, so a deeply nested payload cannot overflow the stack.
 */
export function exceedsJsonBytes(value: unknown, limit: number): boolean {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    switch (typeof item) {
      case 'string':
        total += Buffer.byteLength(item, 'utf8') + 2;
        break;
      case 'number':
      case 'bigint':
        total += String(item).length;
        break;
      case 'boolean':
        total += item ? 4 : 5;
        break;
      case 'object':
        if (item === null) total += 4;
        else if (ArrayBuffer.isView(item) || item instanceof ArrayBuffer) total += item.byteLength;
        else if (Array.isArray(item)) {
          total += 2 + Math.max(0, item.length - 1);
          for (let i = item.length - 1; i >= 0; i -= 1) stack.push(item[i]);
        } else {
          const keys = Object.keys(item);
          // {} and one comma fewer than keys
          total += keys.length === 0 ? 2 : 1;
          for (const key of keys) {
            // "key": and a comma
            total += Buffer.byteLength(key, 'utf8') + 4;
            stack.push((item as Record<string, unknown>)[key]);
          }
        }
        break;
      default:
        // undefined, functions (the ack), symbols: not part of the message.
        break;
    }
    if (total > limit) return true;
  }
  return false;
}
