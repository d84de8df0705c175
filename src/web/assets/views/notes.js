// Notes: list and search, create, and edit in a Markdown textarea that is saved back as
// BlockNote blocks (see blocks.js). Live: the list reloads; an open note warns when it
// changed elsewhere.

import { api, ifMatch, has } from '../api.js';
import { subscribe } from '../events.js';
import { blocksToMarkdown, markdownToBlocks } from '../blocks.js';
import {
  h, replace, field, formError, onSubmit, pageHeader, toast, fmtDateTime, loadError, debounce,
  emptyState, moreButton, confirmAction, nextId, badge, humanize, fmtDate,
} from '../ui.js';

export function list(main, _params, query) {
  const state = { q: query.get('q') || '', archived: query.get('archived') === 'true', pinned: false };
  let cursor = null;

  const createForm = h('form', { class: 'form inline-form', 'aria-labelledby': 'new-note-h' },
    h('h2', { id: 'new-note-h', class: 'visually-hidden' }, 'New note'),
    formError(),
    h('div', { class: 'row wrap' },
      field({ label: 'New note', name: 'title', required: true, placeholder: 'Title', maxlength: 500 }),
      h('button', { type: 'submit', class: 'primary align-end' }, 'Create note')));
  onSubmit(createForm, async (v) => {
    const note = await api.post('/notes', { title: v.title.trim(), content: [] });
    location.hash = `#/notes/${note.id}`;
  });

  const qId = nextId('nq');
  const archId = nextId('narch');
  const pinId = nextId('npin');
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Search notes', onsubmit: (e) => e.preventDefault() },
    h('div', { class: 'field grow' },
      h('label', { for: qId }, 'Search notes'),
      h('input', { id: qId, type: 'search', value: state.q, oninput: debounce((ev) => { state.q = ev.target.value.trim(); load(); }, 300) })),
    h('span', { class: 'check' },
      h('input', { type: 'checkbox', id: pinId, onchange: (ev) => { state.pinned = ev.target.checked; load(); } }),
      h('label', { for: pinId }, 'Pinned only')),
    h('span', { class: 'check' },
      h('input', { type: 'checkbox', id: archId, checked: state.archived, onchange: (ev) => { state.archived = ev.target.checked; load(); } }),
      h('label', { for: archId }, 'Archived')));

  const listEl = h('ul', { class: 'card-list', 'aria-label': 'Notes' });
  const status = h('div');
  const more = h('div');
  main.append(pageHeader('Notes'), createForm, filters, status, listEl, more);

  async function load(append = false) {
    try {
      const page = await api.get('/notes', {
        q: state.q,
        is_archived: state.archived ? 'true' : undefined,
        is_pinned: state.pinned ? 'true' : undefined,
        limit: 30,
        cursor: append ? cursor : undefined,
      });
      cursor = page.next_cursor;
      const items = (page.data || []).map((n) => h('li', { class: 'card note-card' },
        h('h2', { class: 'card-title' },
          h('a', { href: `#/notes/${n.id}` }, n.title || 'Untitled'),
          n.is_pinned ? badge('pinned', 'info') : null,
          n.is_archived ? badge('archived') : null),
        n.plain_text ? h('p', { class: 'excerpt' }, n.plain_text.slice(0, 200)) : null,
        h('p', { class: 'meta' }, `Updated ${fmtDateTime(n.updated_at)}`)));
      if (append) listEl.append(...items);
      else replace(listEl, ...items);
      replace(status, !append && !items.length ? emptyState(state.q ? 'No notes match your search.' : 'No notes yet.') : null);
      replace(more, cursor ? moreButton(() => load(true)) : null);
    } catch (err) {
      replace(listEl);
      replace(status, loadError(err, 'Notes are'));
    }
  }
  load();
  const unsub = subscribe(['note.', 'events.resync'], debounce(() => load(), 250));
  return unsub;
}

export async function edit(main, params) {
  let note;
  try {
    note = await api.get(`/notes/${params.id}`);
  } catch (err) {
    main.append(pageHeader('Note'), err.status === 404
      ? h('p', { class: 'notice' }, 'This note does not exist (or was deleted). ', h('a', { href: '#/notes' }, 'Back to notes'))
      : loadError(err));
    return undefined;
  }

  const header = pageHeader(note.title || 'Untitled');
  const banner = h('div', { class: 'notice notice-warn', role: 'status', hidden: true });
  const form = h('form', { class: 'form note-form', 'aria-label': 'Edit note' });
  const tasksBox = h('section', { class: 'panel', 'aria-labelledby': 'note-tasks-h' });
  let dirty = false;
  let isBlocks = true;

  function fill() {
    const md = blocksToMarkdown(note.content);
    isBlocks = md !== null;
    replace(form,
      formError(),
      field({ label: 'Title', name: 'title', value: note.title, required: true, maxlength: 500 }),
      isBlocks
        ? field({
          label: 'Content', name: 'content', type: 'textarea', rows: 16, value: md,
          hint: 'Markdown: # heading, - list, 1. numbered, - [ ] to-do, > quote, ``` code, **bold**, _italic_, [link](url). Saved as BlockNote blocks.',
        })
        : field({
          label: 'Content (JSON)', name: 'content', type: 'textarea', rows: 16,
          value: JSON.stringify(note.content, null, 2),
          hint: 'This note holds a JSON document rather than BlockNote blocks; edit it as JSON.',
        }),
      h('div', { class: 'row wrap' },
        field({ label: 'Pinned', name: 'is_pinned', type: 'checkbox', value: note.is_pinned }),
        field({ label: 'Archived', name: 'is_archived', type: 'checkbox', value: note.is_archived })),
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'primary' }, 'Save'),
        h('a', { class: 'button secondary', href: '#/notes' }, 'Back to notes'),
        h('span', { class: 'spacer' }),
        h('button', { type: 'button', class: 'danger', onclick: remove }, 'Delete note')),
      h('p', { class: 'meta' }, `Version ${note.version} · updated ${fmtDateTime(note.updated_at)}`));
    dirty = false;
    banner.hidden = true;
  }

  form.addEventListener('input', () => { dirty = true; });
  onSubmit(form, async (v) => {
    let content;
    if (isBlocks) content = markdownToBlocks(v.content, note.content);
    else {
      try {
        content = JSON.parse(v.content);
      } catch (e) {
        const err = new Error('Content is not valid JSON');
        err.status = 422;
        err.errors = [{ field: 'content', message: `is not valid JSON: ${e.message}` }];
        err.name = 'ApiError';
        throw err;
      }
    }
    try {
      note = await api.patch(`/notes/${note.id}`, {
        title: v.title.trim(), content, is_pinned: v.is_pinned, is_archived: v.is_archived,
      }, { headers: ifMatch(note) });
    } catch (err) {
      if (err.status === 412) {
        banner.textContent = 'This note was changed somewhere else since you opened it. Copy your text, then reload to see the latest version.';
        banner.append(' ', h('button', { type: 'button', class: 'link-button', onclick: reload }, 'Reload note'));
        banner.hidden = false;
        return;
      }
      throw err;
    }
    replace(header.querySelector('h1'), note.title || 'Untitled');
    fill();
    toast('Note saved.');
  });

  async function reload() {
    note = await api.get(`/notes/${note.id}`);
    replace(header.querySelector('h1'), note.title || 'Untitled');
    fill();
  }

  async function remove() {
    if (!confirmAction(`Delete the note “${note.title}” and its child notes?`)) return;
    try {
      await api.del(`/notes/${note.id}`);
      toast('Note deleted.');
      location.hash = '#/notes';
    } catch (err) {
      toast(err.detail || 'Could not delete the note.', 'error');
    }
  }

  async function loadTasks() {
    if (!has('/notes/{id}/tasks')) return;
    try {
      const page = await api.get(`/notes/${note.id}/tasks`);
      const rows = page.data || [];
      replace(tasksBox, h('h2', { id: 'note-tasks-h' }, 'Tasks from this note'),
        rows.length
          ? h('ul', { class: 'plain-list' }, rows.map((t) => h('li', null, t.title, ' ', badge(humanize(t.status), t.status),
            t.due_date ? h('span', { class: 'muted' }, ` due ${fmtDate(t.due_date)}`) : null)))
          : emptyState('No tasks link to this note.'));
    } catch {
      replace(tasksBox);
    }
  }

  fill();
  main.append(header, banner, form, tasksBox);
  loadTasks();

  const unsub = subscribe(['note.updated', 'note.deleted', 'task.', 'events.resync'], async (ev) => {
    if (ev.type.startsWith('task.')) return loadTasks();
    const id = ev.data && (ev.data.id || ev.data.note_id);
    if (ev.type !== 'events.resync' && id !== note.id) return;
    if (ev.type === 'note.deleted') {
      banner.textContent = 'This note was deleted somewhere else.';
      banner.hidden = false;
      return;
    }
    if (ev.data && ev.data.version !== undefined && ev.data.version === note.version) return;
    if (!dirty) {
      reload().catch(() => {});
    } else {
      replace(banner, 'This note changed somewhere else. ',
        h('button', { type: 'button', class: 'link-button', onclick: reload }, 'Load the latest version'),
        ' (your unsaved edits will be lost).');
      banner.hidden = false;
    }
  });
  return unsub;
}
