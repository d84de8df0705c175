// Reflections: write one (daily, weekly, …, optionally about a goal) and read past ones.

import { api, has, listAll } from '../api.js';
import { subscribe } from '../events.js';
import {
  h, replace, field, formError, onSubmit, pageHeader, toast, fmtDateTime, loadError, debounce, badge,
  humanize, emptyState, moreButton, confirmAction,
} from '../ui.js';

const TYPES = ['daily', 'weekly', 'monthly', 'goal', 'freeform'];

export async function reflections(main) {
  let cursor = null;
  let goals = [];
  if (has('/goals')) {
    try {
      goals = await listAll('/goals', { status: 'active' }, 2);
    } catch {
      goals = [];
    }
  }
  const goalTitle = new Map(goals.map((g) => [g.id, g.title]));

  const form = h('form', { class: 'form', 'aria-labelledby': 'new-refl-h' },
    h('h2', { id: 'new-refl-h' }, 'Write a reflection'),
    formError(),
    h('div', { class: 'row wrap' },
      field({ label: 'Kind', name: 'reflection_type', type: 'select', options: TYPES.map((t) => [t, humanize(t)]), value: 'daily' }),
      goals.length
        ? field({ label: 'About a goal', name: 'goal_id', type: 'select', options: [['', 'None'], ...goals.map((g) => [g.id, g.title])] })
        : null),
    field({ label: 'Reflection', name: 'content', type: 'textarea', rows: 5, required: true, placeholder: 'What went well? What did you learn?' }),
    h('button', { type: 'submit', class: 'primary' }, 'Save reflection'));
  onSubmit(form, async (v, f) => {
    const body = { content: v.content.trim(), reflection_type: v.reflection_type };
    if (v.goal_id) body.goal_id = v.goal_id;
    await api.post('/reflections', body);
    f.reset();
    toast('Reflection saved.');
    load();
  });

  const listEl = h('ul', { class: 'card-list', 'aria-label': 'Reflections' });
  const status = h('div');
  const more = h('div');
  main.append(pageHeader('Reflections'), form, h('h2', null, 'Past reflections'), status, listEl, more);

  async function load(append = false) {
    try {
      const page = await api.get('/reflections', { limit: 20, cursor: append ? cursor : undefined });
      cursor = page.next_cursor;
      const items = (page.data || []).map((r) => h('li', { class: 'card' },
        h('div', { class: 'meta' }, badge(humanize(r.reflection_type), 'info'), ' ', fmtDateTime(r.created_at),
          r.goal_id ? [' · ', h('a', { href: `#/goals/${r.goal_id}` }, goalTitle.get(r.goal_id) || 'goal')] : null),
        h('p', { class: 'prewrap' }, r.content),
        h('button', {
          type: 'button', class: 'link-button danger-text', 'aria-label': `Delete reflection from ${fmtDateTime(r.created_at)}`,
          onclick: async () => {
            if (!confirmAction('Delete this reflection?')) return;
            try {
              await api.del(`/reflections/${r.id}`);
              load();
            } catch (err) {
              toast(err.detail || 'Could not delete.', 'error');
            }
          },
        }, 'Delete')));
      if (append) listEl.append(...items);
      else replace(listEl, ...items);
      replace(status, !append && !items.length ? emptyState('No reflections yet.') : null);
      replace(more, cursor ? moreButton(() => load(true)) : null);
    } catch (err) {
      replace(listEl);
      replace(status, loadError(err, 'Reflections are'));
    }
  }
  load();
  return subscribe(['reflection.', 'events.resync'], debounce(() => load(), 250));
}
