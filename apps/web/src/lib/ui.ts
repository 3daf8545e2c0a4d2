/** Small DOM helpers shared by the pages: element building, REST calls, and the feedback log. */

type Props = Record<string, string | number | boolean | ((event: Event) => void) | undefined>;

/** Builds an element: `h('button', { class: 'x', onclick: fn }, 'Label')`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(key.replace(/^on/, ''), value);
    else if (key === 'class') element.className = String(value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  element.append(...children);
  return element;
}

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A REST call with the page's token; non-2xx answers become ApiError with the gateway's code. */
export async function api<T>(token: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(payload?.error?.code ?? `HTTP_${response.status}`, payload?.error?.message ?? response.statusText);
  return payload as T;
}

/** "CODE: message" for any error thrown by api() or a socket request. */
export function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? error);
}

/** A visible log of what happened: every action reports here, errors in words. */
export class Feedback {
  constructor(private readonly list: HTMLElement) {}

  ok(text: string): void {
    this.#add(text, 'ok');
  }

  info(text: string): void {
    this.#add(text, 'info');
  }

  error(text: string, error?: unknown): void {
    this.#add(error === undefined ? text : `${text}: ${describe(error)}`, 'bad');
  }

  /** Runs an action, reporting its success or its error. */
  async run<T>(label: string, action: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await action();
      this.ok(label);
      return result;
    } catch (error) {
      this.error(`${label} failed`, error);
      return undefined;
    }
  }

  #add(text: string, kind: string): void {
    const time = new Date().toLocaleTimeString();
    this.list.prepend(h('li', { class: kind }, `${time} ${text}`));
  }
}

/** Page parameters every co-hosting page needs. */
export function channelParams(params: URLSearchParams): { channelId: string; token: string } {
  return { channelId: params.get('channel') ?? '', token: params.get('token') ?? '' };
}
