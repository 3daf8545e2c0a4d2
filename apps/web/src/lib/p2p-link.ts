import { Signalling } from './signalling';

/** What `p2p:signal` carries either way (docs/signalling.md). */
export interface P2pSignal {
  conferenceId: string;
  fromUserId?: string;
  toUserId?: string;
  description?: { type: 'offer' | 'answer'; sdp: string };
  candidate?: RTCIceCandidateInit | null;
}

/**
 * The connectivity ladder's first rung: a direct RTCPeerConnection to the
 * conference's one other participant, signalled through the gateway
 * (`p2p:signal`), with STUN only (a TURN relay is no direct path). The side
 * with the smaller user id offers, so both never offer at once. Local
 * tracks go both ways; what arrives is `remote`.
 */
export class P2pLink {
  readonly pc: RTCPeerConnection;
  readonly remote = new MediaStream();
  readonly #pendingCandidates: RTCIceCandidateInit[] = [];
  readonly #onClose = new Set<() => void>();
  #closed = false;

  constructor(
    private readonly signalling: Signalling,
    readonly conferenceId: string,
    readonly selfId: string,
    readonly peerId: string,
    iceServers: RTCIceServer[],
    local: MediaStream | undefined,
  ) {
    const stun = iceServers
      .map((s) => ({ urls: (Array.isArray(s.urls) ? s.urls : [s.urls]).filter((u) => u.startsWith('stun:')) }))
      .filter((s) => s.urls.length > 0);
    this.pc = new RTCPeerConnection({ iceServers: stun });
    for (const track of local?.getTracks() ?? []) this.pc.addTrack(track, local!);
    if (!local) {
      // Nothing to send: still receive what the peer sends.
      this.pc.addTransceiver('audio', { direction: 'recvonly' });
      this.pc.addTransceiver('video', { direction: 'recvonly' });
    }
    this.pc.ontrack = (e) => {
      if (!this.remote.getTracks().includes(e.track)) this.remote.addTrack(e.track);
    };
    this.pc.onicecandidate = (e) => void this.#send({ candidate: e.candidate ? e.candidate.toJSON() : null });
  }

  get offerer(): boolean {
    return this.selfId < this.peerId;
  }

  get connected(): boolean {
    return this.pc.connectionState === 'connected';
  }

  /** The offerer sends its offer; the answerer waits for it. */
  async start(): Promise<void> {
    if (!this.offerer || this.#closed) return;
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await this.#send({ description: { type: 'offer', sdp: this.pc.localDescription!.sdp } });
  }

  /** Resolves true once connected, false if not within `timeoutMs` (or it failed or closed first). */
  whenConnected(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.pc.removeEventListener('connectionstatechange', check);
        this.#onClose.delete(closed);
        resolve(ok);
      };
      const closed = () => done(false);
      this.#onClose.add(closed);
      const check = () => {
        if (this.pc.connectionState === 'connected') done(true);
        else if (this.#closed || this.pc.connectionState === 'failed' || this.pc.connectionState === 'closed') done(false);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.pc.addEventListener('connectionstatechange', check);
    });
  }

  /** A `p2p:signal` from the peer. */
  async onSignal(signal: P2pSignal): Promise<void> {
    if (this.#closed) return;
    if (signal.description) {
      await this.pc.setRemoteDescription(signal.description);
      if (signal.description.type === 'offer') {
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        await this.#send({ description: { type: 'answer', sdp: this.pc.localDescription!.sdp } });
      }
      for (const candidate of this.#pendingCandidates.splice(0)) await this.pc.addIceCandidate(candidate).catch(() => undefined);
    }
    if (signal.candidate) {
      if (this.pc.remoteDescription) await this.pc.addIceCandidate(signal.candidate).catch(() => undefined);
      else this.#pendingCandidates.push(signal.candidate);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.pc.close();
    for (const listener of [...this.#onClose]) listener();
  }

  get closed(): boolean {
    return this.#closed;
  }

  async #send(message: Omit<P2pSignal, 'conferenceId'>): Promise<void> {
    if (this.#closed) return;
    // A refusal (the conference no longer allows a direct path) ends the attempt: the SFU path takes over.
    await this.signalling.request('p2p:signal', { conferenceId: this.conferenceId, toUserId: this.peerId, ...message }).catch(() => this.close());
  }
}
