/** The landing page: gateway health and where to go next. */
export async function renderHome(root: HTMLElement): Promise<void> {
  const status = document.createElement('p');
  status.innerHTML = 'Gateway: <span class="status" id="health">checking…</span>';
  const links = document.createElement('p');
  links.innerHTML = '<a href="/api/docs">REST API (OpenAPI)</a>';
  root.append(status, links);
  const badge = status.querySelector<HTMLSpanElement>('#health')!;
  try {
    const response = await fetch('/healthz');
    const body = (await response.json()) as { status: string; sfu: { workers: number } };
    badge.textContent = `${body.status} · ${body.sfu.workers} SFU workers`;
    badge.classList.add(response.ok ? 'ok' : 'bad');
  } catch {
    badge.textContent = 'unreachable';
    badge.classList.add('bad');
  }
}
