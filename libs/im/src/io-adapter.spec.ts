import { EventEmitter } from 'node:events';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { from, isObservable, Observable, of } from 'rxjs';
import { mergeAll } from 'rxjs/operators';
import { ImIoAdapter } from './io-adapter';

type Socket = Parameters<IoAdapter['bindMessageHandlers']>[0];

/** A socket.io socket as far as the adapters use it: listeners, `connected`, and outgoing emits recorded. */
class FakeSocket extends EventEmitter {
  connected = true;
  readonly sent: unknown[][] = [];

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    this.sent.push([event, ...args]);
    return true;
  }

  /** A packet from the client. */
  receive(event: string, ...args: unknown[]): void {
    super.emit(event, ...args);
  }

  disconnect(): void {
    this.connected = false;
    super.emit('disconnect', 'client namespace disconnect');
  }
}

// Nest's WebSocketsController passes this transform to the adapter.
const transform = (data: unknown): Observable<unknown> =>
  from(
    (async () => {
      const result = await data;
      return isObservable(result) ? result : of(result);
    })(),
  ).pipe(mergeAll());

const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

type Scenario = (socket: FakeSocket, log: unknown[]) => Promise<void>;

/** Runs the same handlers and client packets through an adapter; returns what the handlers saw and what the client got. */
async function run(adapter: IoAdapter, scenario: Scenario, handlers: (log: unknown[]) => MessageMappingProperties[]): Promise<unknown> {
  const socket = new FakeSocket();
  const log: unknown[] = [];
  adapter.bindMessageHandlers(socket as unknown as Socket, handlers(log), transform);
  await scenario(socket, log);
  await settle();
  return { seen: log, sent: socket.sent };
}

const handler = (message: string, callback: MessageMappingProperties['callback'], isAckHandledManually = false): MessageMappingProperties => ({
  message,
  methodName: message,
  callback,
  isAckHandledManually,
});

const standard = (log: unknown[]) => [
  handler('echo', async (data: unknown) => {
    log.push(['echo', data]);
    return { ok: true, data };
  }),
  handler('event', async (data: unknown) => ({ event: 'reply', data })),
  handler('nothing', async (data: unknown) => {
    log.push(['nothing', data]);
    return undefined;
  }),
  handler('sync', (data: unknown) => ({ ok: true, data }) as never),
  handler('stream', () => of({ n: 1 }, { n: 2 })),
  handler('manual', async (data: unknown, ack?: (r: unknown) => void) => {
    ack?.({ manual: data });
    return { ignored: true };
  }, true),
  handler('slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return { late: true };
  }),
];

describe('ImIoAdapter', () => {
  const scenarios: Record<string, Scenario> = {
    'one argument and an ack': async (s, log) => {
      s.receive('echo', { a: 1 }, (r: unknown) => log.push(['ack', r]));
    },
    'no data, only an ack': async (s, log) => {
      s.receive('echo', (r: unknown) => log.push(['ack', r]));
    },
    'no arguments at all': async (s) => {
      s.receive('echo');
    },
    'data without an ack': async (s) => {
      s.receive('echo', { a: 1 });
    },
    'several arguments and an ack': async (s, log) => {
      s.receive('echo', 1, 'two', { three: 3 }, (r: unknown) => log.push(['ack', r]));
    },
    'several arguments, no ack': async (s) => {
      s.receive('echo', 1, 2);
    },
    'an array as the data': async (s, log) => {
      s.receive('echo', [1, 2], (r: unknown) => log.push(['ack', r]));
      s.receive('echo', [3, 4]);
    },
    'a result with an event is emitted, not acked': async (s, log) => {
      s.receive('event', { x: 1 }, (r: unknown) => log.push(['ack', r]));
    },
    'a nil result answers nothing': async (s, log) => {
      s.receive('nothing', { x: 1 }, (r: unknown) => log.push(['ack', r]));
    },
    'a synchronous result': async (s, log) => {
      s.receive('sync', 7, (r: unknown) => log.push(['ack', r]));
    },
    'an observable result acks each value': async (s, log) => {
      s.receive('stream', (r: unknown) => log.push(['ack', r]));
    },
    'a handler that acks by itself': async (s, log) => {
      s.receive('manual', 'm', (r: unknown) => log.push(['ack', r]));
    },
    'no answer after a disconnect': async (s, log) => {
      s.receive('slow', (r: unknown) => log.push(['ack', r]));
      s.disconnect();
    },
    'events nobody handles are ignored': async (s, log) => {
      s.receive('unknown', 1, (r: unknown) => log.push(['ack', r]));
    },
  };

  for (const [name, scenario] of Object.entries(scenarios)) {
    it(`behaves as Nest's IoAdapter: ${name}`, async () => {
      const lean = await run(new ImIoAdapter(), scenario, standard);
      const nest = await run(new IoAdapter(), scenario, standard);
      expect(lean).toEqual(nest);
    });
  }

  it('acks in order, once per request', async () => {
    const result = (await run(
      new ImIoAdapter(),
      async (s, log) => {
        for (let i = 0; i < 3; i += 1) s.receive('echo', i, (r: unknown) => log.push(['ack', r]));
      },
      standard,
    )) as { seen: unknown[] };
    expect(result.seen.filter((e) => (e as unknown[])[0] === 'ack')).toEqual([0, 1, 2].map((i) => ['ack', { ok: true, data: i }]));
  });

  it('adds one listener per event to the socket', () => {
    const socket = new FakeSocket();
    new ImIoAdapter().bindMessageHandlers(socket as unknown as Socket, standard([]), transform);
    expect(socket.listenerCount('echo')).toBe(1);
    expect(socket.eventNames()).toHaveLength(standard([]).length);
  });
});
