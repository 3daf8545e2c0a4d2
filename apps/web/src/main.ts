/**
 * Entry of the browser app. Pages are chosen by the URL's hash route; the
 * conference, host, guest and viewer pages register themselves in `routes`.
 */
import { renderConference } from './pages/conference';
import { renderDirectory } from './pages/directory';
import { renderGuest } from './pages/guest';
import { renderHome } from './pages/home';
import { renderHost } from './pages/host';
import { renderViewer } from './pages/viewer';

const routes: Record<string, (root: HTMLElement, params: URLSearchParams) => void | Promise<void>> = {
  '': renderHome,
  conference: renderConference,
  host: renderHost,
  guest: renderGuest,
  viewer: renderViewer,
  directory: renderDirectory,
};

async function route(): Promise<void> {
  const root = document.getElementById('app')!;
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const page = routes[path] ?? renderHome;
  root.replaceChildren();
  await page(root, new URLSearchParams(query));
}

window.addEventListener('hashchange', () => void route());
void route();
