import { Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { isObservable, Observable } from 'rxjs';

const logger = new Logger('Im');

/** The socket type of Nest's adapter (its own copy of socket.io). */
type AdapterSocket = Parameters<IoAdapter['bindMessageHandlers']>[0];

/**
 * Nest's socket.io adapter, binding message handlers with one plain listener
 * per event instead of an rxjs pipeline (fromEvent → mergeMap → filter → map →
 * takeUntil(disconnect) → subscribe) per event per socket.
 *
 * What a handler sees and what the client gets back are Nest's: the handler is
 * Nest's own callback (guards, pipes, interceptors, exception filters), the
 * payload is split into data and ack as `IoAdapter.mapPayload` does, and each
 * non-nil result is acked, or emitted when it has an `event`, unless the socket
 * disconnected meanwhile or the handler acks by itself.
 *
 * Why: those pipelines cost about 4 kB of heap per event per socket. With the
 * 17 co-host and media events, 2,000 connected sockets held ~210 MB of heap
 * (~70-100 MB without them), all of it traced by every major GC, and their
 * operator chain ran for every socket request.
 */
export class ImIoAdapter extends IoAdapter {
  /**
   * `clusterAdapter`: socket.io's adapter factory for the cluster (the Redis
   * streams adapter), so that rooms and broadcasts span every node; without
   * it socket.io's in-memory adapter serves this node alone.
   */
  constructor(
    app?: ConstructorParameters<typeof IoAdapter>[0],
    private readonly clusterAdapter?: unknown,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: object): unknown {
    const server = super.createIOServer(port, options) as { adapter: (factory: unknown) => unknown };
    if (this.clusterAdapter) server.adapter(this.clusterAdapter);
    return server;
  }

  override bindMessageHandlers(socket: AdapterSocket, handlers: MessageMappingProperties[], transform: (data: unknown) => Observable<unknown>): void {
    for (const { message, callback, isAckHandledManually } of handlers) {
      socket.on(message as string, (...args: unknown[]) => {
        // rxjs fromEvent (which the base adapter uses) passes one argument as itself, several as an array.
        const { data, ack } = this.mapPayload(args.length > 1 ? args : args[0]);
        const reply = (response: unknown) => {
          if (response === undefined || response === null || !socket.connected) return;
          const { event, data: eventData } = response as { event?: string; data?: unknown };
          if (event) socket.emit(event, eventData);
          else if (!isAckHandledManually && typeof ack === 'function') ack(response);
        };
        let result: unknown;
        try {
          result = callback(data, ack);
        } catch (error) {
          // Nest's callback catches and filters its handler's errors; this is only a safety net.
          logger.error(`${String(message)}: ${(error as Error).stack ?? String(error)}`);
          return;
        }
        Promise.resolve(result).then(
          (value) => {
            // A handler may return an Observable (or a Promise of one): Nest's transform subscribes to it.
            if (isObservable(value)) transform(value).subscribe({ next: reply, error: (error: Error) => logger.error(`${String(message)}: ${error.stack ?? error.message}`) });
            else reply(value);
          },
          (error: Error) => logger.error(`${String(message)}: ${error?.stack ?? String(error)}`),
        );
      });
    }
  }
}
