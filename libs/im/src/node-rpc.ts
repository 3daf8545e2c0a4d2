import { Logger } from '@nestjs/common';
import type { Server } from 'socket.io';
import { GatewayError } from '@gw/common';
import type { Ack } from './respond';

/** What a node answers a forwarded request with: its ack, or null when the thing asked about is not here. */
type RpcReply = Ack | null;
type RpcHandler = (payload: unknown) => Promise<RpcReply> | RpcReply;

interface RpcMessage {
  op: string;
  payload: unknown;
}

const RPC_EVENT = 'gw:rpc';

/**
 * Requests forwarded to the node that holds what they are about (cluster
 * mode). A socket request whose subject (an invitation, a hosted channel)
 * is not on the node the client reached goes to every other node through
 * socket.io's server-side events with acknowledgements, which the Redis
 * streams adapter carries; the node that holds it runs the request as the
 * same principal and acks, the others ack null. The holder alone changes
 * its state, so two requests racing on two nodes are serialized there (one
 * winner). On a node of its own there is nobody to ask: `forward` resolves
 * undefined at once.
 */
export class NodeRpc {
  readonly #logger = new Logger('Cluster');
  readonly #handlers = new Map<string, RpcHandler>();
  #server: Server | undefined;
  #clustered = false;

  /** Cluster mode: other nodes share the socket.io adapter (set at boot with REDIS_URL). */
  enable(): void {
    this.#clustered = true;
  }

  get clustered(): boolean {
    return this.#clustered;
  }

  attach(server: Server): void {
    this.#server = server;
    server.on(RPC_EVENT, (message: RpcMessage, ack: (reply: RpcReply) => void) => {
      const handler = this.#handlers.get(message?.op);
      if (!handler || typeof ack !== 'function') return void (typeof ack === 'function' && ack(null));
      Promise.resolve()
        .then(() => handler(message.payload))
        .then(
          (reply) => ack(reply ?? null),
          (error: Error) => {
            this.#logger.error(`forwarded ${message.op}: ${error.stack ?? error.message}`);
            ack(null);
          },
        );
    });
  }

  /** Serves `op` for other nodes: `handler` returns null when its subject is not on this node. */
  handle(op: string, handler: RpcHandler): void {
    this.#handlers.set(op, handler);
  }

  /**
   * Asks the other nodes to run `op`; resolves the holder's ack, or undefined
   * when no node holds its subject (or none answered within `timeoutMs`).
   */
  forward(op: string, payload: unknown, timeoutMs = 6000): Promise<Ack | undefined> {
    const server = this.#server;
    // socket.io's in-memory adapter (one node) has no server-side events at all.
    if (!server || !this.#clustered) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      // The cluster adapter waits for every node it knows (a node killed counts until its heartbeat
      // times out, 10 s) at most 5 s, then gives what came; this timer only guards against no callback.
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      server.serverSideEmit(RPC_EVENT, { op, payload } satisfies RpcMessage, (error: Error | null, replies: RpcReply[] = []) => {
        clearTimeout(timer);
        const reply = replies.find((r): r is Ack => r !== null && typeof r === 'object');
        if (!reply && error) this.#logger.warn(`forwarded ${op}: ${error.message} (${replies.length} nodes answered)`);
        resolve(reply);
      });
    });
  }

  /**
   * Runs `local`; when it fails because its subject is not here (`notHere`),
   * runs the request on the node that holds it. A remote refusal comes back
   * as the same typed error.
   */
  async here<T extends object>(local: () => Promise<T> | T, notHere: (error: unknown) => boolean, op: string, payload: unknown): Promise<T> {
    try {
      return await local();
    } catch (error) {
      if (!notHere(error)) throw error;
      const reply = await this.forward(op, payload);
      if (!reply) throw error;
      if (!reply.ok) throw new ForwardedError(reply.error.code, reply.error.message);
      const { ok: _ok, ...result } = reply;
      return result as unknown as T;
    }
  }
}

/** A refusal from the node that ran a forwarded request, with its code and message. */
export class ForwardedError extends GatewayError {
  constructor(code: string, message: string) {
    super(code, message, 409);
  }
}
