/**
 * Client-side mixing (主播端混流): the host's page composes its own camera and
 * the guests' videos on a canvas in the float layout (the host fills the
 * picture, guests sit in small windows along the bottom right), and mixes
 * every microphone with WebAudio, into one stream to publish.
 */
export class Composer {
  readonly #canvas: HTMLCanvasElement;
  readonly #context: CanvasRenderingContext2D;
  readonly #audio: AudioContext;
  readonly #destination: MediaStreamAudioDestinationNode;
  readonly #sources = new Map<MediaStreamTrack, MediaStreamAudioSourceNode>();
  readonly #videos = new Map<string, HTMLVideoElement>();
  readonly #timer: ReturnType<typeof setInterval>;
  readonly stream: MediaStream;

  constructor(
    private readonly people: () => { host?: MediaStream; guests: { userId: string; stream: MediaStream }[] },
    width = 640,
    height = 360,
    fps = 25,
  ) {
    this.#canvas = Object.assign(document.createElement('canvas'), { width, height });
    this.#context = this.#canvas.getContext('2d')!;
    this.#audio = new AudioContext({ sampleRate: 48000 });
    this.#destination = this.#audio.createMediaStreamDestination();
    // A timer, not requestAnimationFrame: it keeps drawing when the tab is in the background.
    this.#timer = setInterval(() => this.#draw(), 1000 / fps);
    const video = this.#canvas.captureStream(fps).getVideoTracks();
    // A composed picture must keep its size: the gateway may remux it as is, so ask the encoder
    // to lower frame rate or quality under pressure rather than resolution.
    for (const track of video) track.contentHint = 'detail';
    this.stream = new MediaStream([...video, ...this.#destination.stream.getAudioTracks()]);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.stream.getTracks().forEach((t) => t.stop());
    void this.#audio.close();
  }

  #video(key: string, stream: MediaStream): HTMLVideoElement {
    let video = this.#videos.get(key);
    if (!video) {
      video = Object.assign(document.createElement('video'), { muted: true, autoplay: true, playsInline: true });
      this.#videos.set(key, video);
    }
    if (video.srcObject !== stream) {
      video.srcObject = stream;
      void video.play().catch(() => undefined);
    }
    return video;
  }

  #draw(): void {
    const { width, height } = this.#canvas;
    const ctx = this.#context;
    const { host, guests } = this.people();
    ctx.fillStyle = '#101010';
    ctx.fillRect(0, 0, width, height);
    if (host) this.#blit(this.#video('host', host), 0, 0, width, height);
    // Float layout, as the server's: windows of a quarter of the width along the bottom right.
    const w = Math.round(width / 4 / 2) * 2;
    const h = Math.round((w * 9) / 16 / 2) * 2;
    const margin = Math.round(width / 64);
    guests.forEach((g, i) => {
      const x = width - margin - (i + 1) * w - i * margin;
      this.#blit(this.#video(g.userId, g.stream), x, height - margin - h, w, h);
    });
    this.#mixAudio([host, ...guests.map((g) => g.stream)]);
  }

  #blit(video: HTMLVideoElement, x: number, y: number, w: number, h: number): void {
    if (video.readyState >= 2) this.#context.drawImage(video, x, y, w, h);
  }

  /** Connects every live microphone track to the mix once; drops tracks that ended. */
  #mixAudio(streams: (MediaStream | undefined)[]): void {
    const live = new Set<MediaStreamTrack>();
    for (const stream of streams) for (const track of stream?.getAudioTracks() ?? []) if (track.readyState === 'live') live.add(track);
    for (const [track, node] of this.#sources) {
      if (!live.has(track)) {
        node.disconnect();
        this.#sources.delete(track);
      }
    }
    for (const track of live) {
      if (this.#sources.has(track)) continue;
      const node = this.#audio.createMediaStreamSource(new MediaStream([track]));
      node.connect(this.#destination);
      this.#sources.set(track, node);
    }
  }
}
