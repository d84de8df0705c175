// Memories: what the assistant knows about the person. Add, filter, edit, forget.

import { api } from '../api.js';
import { subscribe } from '../events.js';
import {
  h, replace, field, formError, onSubmit, pageHeader, toast, fmtDateTime, loadError, debounce, badge,
  humanize, emptyState, moreButton, confirmAction, nextId,
} from '../ui.js';

const TYPES = ['fact', 'preference', 'event', 'person', 'other'];
const IMPORTANCE = [1, 2, 3, 4, 5];

function tagsOf(text) {
  return text.split(',').map((t) => t.trim()).filter(Boolean);
}

export function memories(main) {
  const state = { memory_type: '', tag: '', q: '' };
  let cursor = null;

  const form = h('form', { class: 'form', 'aria-labelledby': 'new-mem-h' },
    h('h2', { id: 'new-mem-h' }, 'Remember something'),
    formError(),
    field({ label: 'Memory', name: 'content', type: 'textarea', rows: 2, required: true, placeholder: 'e.g. Prefers morning meetings' }),
    h('div', { class: 'row wrap' },
      field({ label: 'Kind', name: 'memory_type', type: 'select', options: TYPES.map((t) => [t, humanize(t)]), value: 'fact' }),
      field({ label: 'Importance', name: 'importance', type: 'select', options: IMPORTANCE.map((i) => [String(i), `${i} of 5`]), value: '3' }),
      field({ label: 'Tags', name: 'tags', hint: 'Comma-separated', placeholder: 'work, family' }),
      h('button', { type: 'submit', class: 'primary align-end' }, 'Save memory')));
  onSubmit(form, async (v, f) => {
    await api.post('/memories', {
      content: v.content.trim(), memory_type: v.memory_type, importance: Number(v.importance), tags: tagsOf(v.tags),
    });
    f.reset();
    toast('Memory saved.');
    load();
  });

  const typeId = nextId('mt');
  const tagId = nextId('mtag');
  const qId = nextId('mq');
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter memories', onsubmit: (e) => e.preventDefault() },
    h('div', { class: 'field' }, h('label', { for: typeId }, 'Kind'),
      h('select', { id: typeId, onchange: (e) => { state.memory_type = e.target.value; load(); } },
        h('option', { value: '' }, 'Any'), TYPES.map((t) => h('option', { value: t }, humanize(t))))),
    h('div', { class: 'field' }, h('label', { for: tagId }, 'Tag'),
      h('input', { id: tagId, type: 'text', oninput: debounce((e) => { state.tag = e.target.value.trim(); load(); }, 300) })),
    h('div', { class: 'field grow' }, h('label', { for: qId }, 'Search'),
      h('input', { id: qId, type: 'search', oninput: debounce((e) => { state.q = e.target.value.trim(); load(); }, 300) })));

  const listEl = h('ul', { class: 'card-list', 'aria-label': 'Memories' });
  const status = h('div');
  const more = h('div');
  main.append(pageHeader('Memories'), form, filters, status, listEl, more);

  function item(m) {
    const li = h('li', { class: 'card' });
    const show = () => replace(li,
      h('p', null, m.content),
      h('div', { class: 'meta' },
        badge(humanize(m.memory_type), 'info'),
        h('span', { role: 'img', 'aria-label': `Importance ${m.importance} of 5` }, '★'.repeat(m.importance) + '☆'.repeat(5 - m.importance)),
        (m.tags || []).map((t) => badge(`#${t}`)),
        m.source ? h('span', null, `from ${humanize(m.source)}`) : null,
        h('span', null, fmtDateTime(m.created_at))),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'link-button', 'aria-label': `Edit memory: ${m.content.slice(0, 40)}`, onclick: editMode }, 'Edit'),
        h('button', {
          type: 'button', class: 'link-button danger-text', 'aria-label': `Forget memory: ${m.content.slice(0, 40)}`,
          onclick: async () => {
            if (!confirmAction('Forget this memory?')) return;
            try {
              await api.del(`/memories/${m.id}`);
              li.remove();
            } catch (err) {
              toast(err.detail || 'Could not delete.', 'error');
            }
          },
        }, 'Forget')));
    const editMode = () => {
      const f = h('form', { class: 'form', 'aria-label': 'Edit memory' },
        formError(),
        field({ label: 'Memory', name: 'content', type: 'textarea', rows: 2, value: m.content, required: true }),
        h('div', { class: 'row wrap' },
          field({ label: 'Kind', name: 'memory_type', type: 'select', options: TYPES.map((t) => [t, humanize(t)]), value: m.memory_type }),
          field({ label: 'Importance', name: 'importance', type: 'select', options: IMPORTANCE.map((i) => [String(i), `${i} of 5`]), value: String(m.importance) }),
          field({ label: 'Tags', name: 'tags', value: (m.tags || []).join(', ') })),
        h('div', { class: 'row' },
          h('button', { type: 'submit', class: 'primary' }, 'Save'),
          h('button', { type: 'button', class: 'secondary', onclick: show }, 'Cancel')));
      onSubmit(f, async (v) => {
        m = await api.patch(`/memories/${m.id}`, {
          content: v.content.trim(), memory_type: v.memory_type, importance: Number(v.importance), tags: tagsOf(v.tags),
        });
        show();
      });
      replace(li, f);
      f.querySelector('textarea').focus();
    };
    show();
    return li;
  }

  async function load(append = false) {
    try {
      const page = await api.get('/memories', { ...state, limit: 30, cursor: append ? cursor : undefined });
      cursor = page.next_cursor;
      const items = (page.data || []).map(item);
      if (append) listEl.append(...items);
      else replace(listEl, ...items);
      replace(status, !append && !items.length ? emptyState('No memories yet.') : null);
      replace(more, cursor ? moreButton(() => load(true)) : null);
    } catch (err) {
      replace(listEl);
      replace(status, loadError(err, 'Memories are'));
    }
  }
  load();
  return subscribe(['memory.', 'events.resync'], debounce(() => {
    if (!listEl.querySelector('form')) load();
  }, 250));
}
