import type { LineLogger } from '@gw/common';
import { type Conference, REMOVED_BY_HOST } from './conference';

export interface ConferenceRelayOptions {
  from: Conference;
  to: Conference;
  /** Which of `from`'s participants are shown in `to` (asked again on every change). */
  select: (userId: string) => boolean;
  logger: LineLogger;
  /** Someone was relayed in or went (the owner may change a layout). */
  onChange?: () => void;
}

/**
 * Shows some participants of one conference in another, live: each selected
 * participant of `from` is a participant of `to` joined `via: 'relay'`,
 * whose producers are `from`'s piped across (Conference.relayProducer). New
 * producers follow, a participant who leaves `from` leaves `to`, and `stop()`
 * (or either conference closing) takes every relayed participant out of `to`.
 * A user present in `to` by their own means is left alone. A co-hosting
 * channel's guests reach its PK this way, with no second push or join.
 */
export class ConferenceRelay {
  readonly #relayed = new Set<string>();
  /** Users `to`'s host removed: a removal sticks, it is not a loss to repair. */
  readonly #excluded = new Set<string>();
  readonly #unsubscribe: (() => void)[] = [];
  /** Per user, so that a burst of events cannot relay one producer twice at once. */
  readonly #work = new Map<string, Promise<void>>();
  #stopped = false;

  constructor(private readonly o: ConferenceRelayOptions) {}

  /** Relays who is selected now, and follows changes until stopped. */
  start(): void {
    const { from, to } = this.o;
    const sync = ({ userId }: { userId: string }) => this.#queue(userId);
    const left = ({ userId }: { userId: string }) => this.#enqueue(userId, async () => this.#drop(userId, 'left the source conference'));
    // Either side closing ends the relay; the owner hears who went (it did not ask).
    const ended = () => this.stop(true);
    // Dropped from `to` by something else (a worker died under it): relayed again once `to` can take them.
    // Removed by `to`'s host: not relayed again while this relay lasts.
    const lost = ({ userId, reason }: { userId: string; reason: string }) => {
      if (reason === REMOVED_BY_HOST) this.#excluded.add(userId);
      if (!this.#relayed.delete(userId)) return;
      if (this.#excluded.has(userId)) return void this.o.onChange?.();
      this.o.onChange?.();
      this.#enqueue(userId, async () => {
        await to.ready();
        await this.#relay(userId);
      });
    };
    from.on('newProducer', sync);
    from.on('participantLeft', left);
    to.on('participantLeft', lost);
    from.once('closed', ended);
    to.once('closed', ended);
    this.#unsubscribe.push(
      () => from.off('newProducer', sync),
      () => from.off('participantLeft', left),
      () => to.off('participantLeft', lost),
      () => from.off('closed', ended),
      () => to.off('closed', ended),
    );
    this.refresh();
  }

  /** Who is relayed now. */
  get userIds(): string[] {
    return [...this.#relayed];
  }

  /** Asks `select` again for everyone: newly selected users are relayed, deselected ones leave `to`. */
  refresh(): void {
    if (this.#stopped) return;
    for (const p of this.o.from.participants) this.#queue(p.userId);
    for (const userId of [...this.#relayed]) {
      if (!this.o.select(userId) || !this.o.from.participant(userId)) this.#enqueue(userId, async () => this.#drop(userId, 'no longer relayed'));
    }
  }

  /** Takes every relayed participant out of `to`; `notify`: tell the owner (onChange) if anyone went. */
  stop(notify = false): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    const had = this.#relayed.size > 0;
    for (const userId of [...this.#relayed]) this.#drop(userId, 'relay ended', true);
    if (notify && had) this.o.onChange?.();
  }

  #queue(userId: string): void {
    if (this.#stopped || this.#excluded.has(userId) || !this.o.select(userId)) return;
    this.#enqueue(userId, () => this.#relay(userId));
  }

  /** Runs one user's changes in order (a leave after a relay still in progress undoes it). */
  #enqueue(userId: string, work: () => Promise<void>): void {
    const previous = this.#work.get(userId) ?? Promise.resolve();
    const next = previous
      .then(() => (this.#stopped ? undefined : work()))
      .catch((error: Error) => this.o.logger.warn(`relay of ${userId} from ${this.o.from.id} to ${this.o.to.id}: ${error.message}`))
      .finally(() => {
        if (this.#work.get(userId) === next) this.#work.delete(userId);
      });
    this.#work.set(userId, next);
  }

  async #relay(userId: string): Promise<void> {
    const { from, to } = this.o;
    if (this.#stopped || from.closed || to.closed || !this.o.select(userId)) return;
    const producers = from.producersExcept('').filter((p) => p.userId === userId);
    if (producers.length === 0) return;
    const present = to.participant(userId);
    if (present && present.via !== 'relay') return; // in `to` by their own push or browser: theirs wins
    if (!present) {
      to.admit(userId);
      this.#relayed.add(userId);
      const joined = await to.join(userId, 'relay');
      const sourceVia = from.participant(userId)?.via;
      joined.relayOf = { conferenceId: from.id, via: sourceVia === 'rtmp' ? 'rtmp' : 'webrtc' };
      if (this.#stopped) {
        // stop() ran while joining: it could not take out who was not there yet.
        if (to.participant(userId)?.via === 'relay') to.leave(userId, 'relay ended');
        return;
      }
      this.o.onChange?.();
    }
    for (const p of producers) {
      if (this.#stopped || !to.participant(userId)) return;
      await to.relayProducer(userId, from, p.producerId);
    }
  }

  #drop(userId: string, reason: string, stopping = false): void {
    if (!this.#relayed.delete(userId)) return;
    if (this.o.to.participant(userId)?.via === 'relay') this.o.to.leave(userId, reason);
    if (!stopping) this.o.onChange?.();
  }
}
