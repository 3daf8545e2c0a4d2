import { api, describe, Feedback, h } from '../lib/ui';

interface DirectoryEntry {
  conferenceId: string;
  channelId: string;
  title: string;
  participants: number;
  state: string;
}

/**
 * The directory: `#/directory?token=<token>`. Conferences that are published
 * as channels (bypass live), with their titles and sizes; picking one opens
 * the viewer page, whose first play starts an on-demand mix.
 */
export async function renderDirectory(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const token = params.get('token') ?? '';
  const list = h('ul', { id: 'directory' });
  const log = h('ul', { class: 'feedback', id: 'feedback' });
  const refresh = h('button', { id: 'refresh' }, 'Refresh');
  root.append(h('section', { class: 'directory' }, h('h2', {}, 'Live meetings'), h('p', {}, refresh), list, h('h3', {}, 'What happened'), log));
  const feedback = new Feedback(log);

  const load = async () => {
    try {
      const entries = await api<DirectoryEntry[]>(token, 'GET', '/directory');
      list.replaceChildren(
        ...entries.map((e) =>
          h(
            'li',
            { 'data-channel': e.channelId },
            h('a', { href: `#/viewer?channel=${encodeURIComponent(e.channelId)}&token=${encodeURIComponent(token)}` }, e.title),
            ` · ${e.participants} participant${e.participants === 1 ? '' : 's'} · ${e.state === 'live' ? 'on air' : 'starts when you watch'}`,
          ),
        ),
      );
      if (entries.length === 0) list.replaceChildren(h('li', {}, 'No meeting is being broadcast right now.'));
    } catch (error) {
      feedback.error(`cannot load the directory: ${describe(error)}`);
    }
  };
  refresh.addEventListener('click', () => void load());
  await load();
}
