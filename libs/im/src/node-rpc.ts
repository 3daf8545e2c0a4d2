import { Logger } from '@nestjs/common';
import type { Server } from 'socket.io';
import { describeError, GatewayError } from '@gw/common';
import { Ack, respond } from './respond';

/** What a node answers a forwarded request with: its ack, or null when the thing asked about is not here. */
type RpcReply = Ack | null;
type RpcHandler = (payload: unknown) => Promise<RpcReply> | RpcReply;

interface RpcMessage {
  op: string;
  payload: unknown;
  /** Set by nodes that take early replies: where and under which id the holder answers at once. */
  replyTo?: { requestId: string };
}

interface EarlyReply {
  requestId: string;
  reply: Ack;
}

const RPC_EVENT = 'gw:rpc';
const RPC_REPLY_EVENT = 'gw:rpc-reply';

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
  /** Requests waiting for their holder's answer, by request id. */
  readonly #waiting = new Map<string, (reply: Ack) => void>();
  #requests = 0;
  readonly #prefix = Math.random().toString(36).slice(2, 10);

  /** Cluster mode: other nodes share the socket.io adapter (set at boot with REDIS_URL). */
  enable(): void {
    this.#clustered = true;
  }

  get clustered(): boolean {
    return this.#clustered;
  }

  attach(server: Server): void {
    this.#server = server;
    // The holder's answer, sent at once to every node: the asking one settles without waiting for the
    // others' nulls (the adapter waits for every node it knows, up to 5 s for one that just died).
    server.on(RPC_REPLY_EVENT, (message: EarlyReply) => {
      const settle = message && this.#waiting.get(message.requestId);
      if (settle && message.reply && typeof message.reply === 'object') settle(message.reply);
    });
    server.on(RPC_EVENT, (message: RpcMessage, ack: (reply: RpcReply) => void) => {
      const handler = this.#handlers.get(message?.op);
      if (!handler || typeof ack !== 'function') return void (typeof ack === 'function' && ack(null));
      Promise.resolve()
        .then(() => handler(message.payload))
        .then(
          (reply) => {
            if (reply && message.replyTo) server.serverSideEmit(RPC_REPLY_EVENT, { requestId: message.replyTo.requestId, reply } satisfies EarlyReply);
            ack(reply ?? null);
          },
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
      const requestId = `${this.#prefix}-${++this.#requests}`;
      let settled = false;
      const settle = (reply: Ack | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#waiting.delete(requestId);
        resolve(reply);
      };
      // The cluster adapter waits for every node it knows (a node killed counts until its heartbeat
      // times out) at most 5 s, then gives what came; this timer only guards against no callback.
      const timer = setTimeout(() => settle(undefined), timeoutMs);
      this.#waiting.set(requestId, settle);
      server.serverSideEmit(RPC_EVENT, { op, payload, replyTo: { requestId } } satisfies RpcMessage, (error: Error | null, replies: RpcReply[] = []) => {
        const reply = replies.find((r): r is Ack => r !== null && typeof r === 'object');
        if (!reply && error && !settled) this.#logger.warn(`forwarded ${op}: ${error.message} (${replies.length} nodes answered)`);
        settle(reply);
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
      if (!reply.ok) throw forwardedError(reply.error);
      const { ok: _ok, ...result } = reply;
      return result as unknown as T;
    }
  }
}

/** A refusal from the node that ran a forwarded request, with its code and message. */
export class ForwardedError extends GatewayError {
  constructor(code: string, message: string, status = 409) {
    super(code, message, status);
  }
}

/** Like respond(), for a request another node forwarded: a refusal also carries its HTTP status (REST requests keep it). */
export async function respondForwarded<T extends object>(work: () => Promise<T> | T): Promise<Ack<T> | { ok: false; error: { code: string; message: string; status: number } }> {
  let status = 500;
  const ack = await respond(async () => {
    try {
      return await work();
    } catch (error) {
      status = describeError(error).status;
      throw error;
    }
  });
  return ack.ok ? ack : { ok: false, error: { ...ack.error, status } };
}

/** The typed error of a forwarded refusal, with its status when the holder gave one. */
export function forwardedError(error: { code: string; message: string; status?: number }): ForwardedError {
  return new ForwardedError(error.code, error.message, typeof error.status === 'number' ? error.status : 409);
}
