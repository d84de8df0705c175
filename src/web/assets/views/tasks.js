// Tasks: create, filter by status/priority/text, change status, edit, delete. Live.

import { api, ifMatch } from '../api.js';
import { subscribe } from '../events.js';
import {
  h, replace, field, formError, onSubmit, pageHeader, toast, fmtDate, loadError, badge, humanize,
  debounce, emptyState, moreButton, confirmAction, nextId,
} from '../ui.js';

export const STATUSES = ['todo', 'in_progress', 'done', 'cancelled'];
export const PRIORITIES = ['low', 'medium', 'high', 'urgent'];

/** A status <select> for one task (label hidden visually but read out). */
export function statusSelect(task, onChange) {
  const id = nextId('status');
  const sel = h('select', { id, class: 'compact', onchange: () => onChange(sel.value) },
    STATUSES.map((s) => h('option', { value: s, selected: s === task.status }, humanize(s))));
  return [h('label', { for: id, class: 'visually-hidden' }, `Status of ${task.title}`), sel];
}

/** Set a task's status through `PUT /tasks/{id}/status`; resolves to the updated task. */
export async function setStatus(task, status) {
  return api.put(`/tasks/${task.id}/status`, { status });
}

/** One task as a list item; `onChanged()` is called after any change. */
export function taskItem(task, { onChanged, onEdit } = {}) {
  const done = task.status === 'done';
  const checkId = nextId('done');
  const li = h('li', { class: `task status-${task.status}`, dataset: { id: task.id } },
    h('div', { class: 'task-main' },
      h('input', {
        type: 'checkbox', id: checkId, checked: done,
        onchange: async (ev) => {
          try {
            await setStatus(task, ev.target.checked ? 'done' : 'todo');
            onChanged?.();
          } catch (err) {
            ev.target.checked = !ev.target.checked;
            toast(err.detail || 'Could not change the status.', 'error');
          }
        },
      }),
      h('div', { class: 'task-text' },
        h('label', { for: checkId, class: 'task-title' }, task.title),
        h('div', { class: 'meta' },
          badge(humanize(task.priority), task.priority),
          task.due_date ? h('span', null, `Due ${fmtDate(task.due_date)}${task.due_time ? ` ${task.due_time.slice(0, 5)}` : ''}`) : null,
          task.source && task.source !== 'manual' ? h('span', null, `from ${humanize(task.source)}`) : null,
          task.goal_id ? h('a', { href: `#/goals/${task.goal_id}` }, 'goal') : null,
          task.note_id ? h('a', { href: `#/notes/${task.note_id}` }, 'note') : null),
        task.description ? h('p', { class: 'desc' }, task.description) : null)),
    h('div', { class: 'task-actions' },
      statusSelect(task, async (status) => {
        try {
          await setStatus(task, status);
          onChanged?.();
        } catch (err) {
          toast(err.detail || 'Could not change the status.', 'error');
        }
      }),
      onEdit ? h('button', { type: 'button', class: 'link-button', 'aria-label': `Edit ${task.title}`, onclick: () => onEdit(task, li) }, 'Edit') : null,
      h('button', {
        type: 'button', class: 'link-button danger-text', 'aria-label': `Delete ${task.title}`,
        onclick: async () => {
          if (!confirmAction(`Delete the task “${task.title}”?`)) return;
          try {
            await api.del(`/tasks/${task.id}`);
            li.remove();
            toast('Task deleted.');
            onChanged?.();
          } catch (err) {
            toast(err.detail || 'Could not delete the task.', 'error');
          }
        },
      }, 'Delete')));
  return li;
}

function cleanTask(v) {
  const body = { title: v.title.trim() };
  if (v.description !== undefined) body.description = v.description.trim() || null;
  if (v.priority) body.priority = v.priority;
  if (v.due_date !== undefined) body.due_date = v.due_date || null;
  if (v.due_time !== undefined) body.due_time = v.due_time || null;
  return body;
}

export function tasks(main, _params, query) {
  const filters = {
    status: new Set(query.getAll('status')),
    priority: query.get('priority') || '',
    q: query.get('q') || '',
    sort: query.get('sort') === 'due_date',
  };
  let cursor = null;
  let editing = null;

  const createForm = h('form', { class: 'form inline-form', 'aria-labelledby': 'new-task-h' },
    h('h2', { id: 'new-task-h', class: 'visually-hidden' }, 'New task'),
    formError(),
    h('div', { class: 'row wrap' },
      field({ label: 'New task', name: 'title', required: true, placeholder: 'What needs doing?', maxlength: 500 }),
      field({ label: 'Priority', name: 'priority', type: 'select', options: PRIORITIES.map((p) => [p, humanize(p)]), value: 'medium' }),
      field({ label: 'Due date', name: 'due_date', type: 'date' }),
      h('button', { type: 'submit', class: 'primary align-end' }, 'Add task')),
    h('details', null, h('summary', null, 'More options'),
      field({ label: 'Description', name: 'description', type: 'textarea', rows: 2 }),
      field({ label: 'Due time', name: 'due_time', type: 'time' })));
  onSubmit(createForm, async (v, form) => {
    const body = cleanTask(v);
    if (!body.description) delete body.description;
    if (!body.due_date) delete body.due_date;
    if (!body.due_time) delete body.due_time;
    await api.post('/tasks', body);
    form.reset();
    form.querySelector('[name="title"]').focus();
    toast('Task added.');
    load();
  });

  const statusBoxes = STATUSES.map((s) => {
    const id = nextId('f-status');
    return h('span', { class: 'check' },
      h('input', {
        type: 'checkbox', id, value: s, checked: filters.status.has(s),
        onchange: (ev) => {
          if (ev.target.checked) filters.status.add(s);
          else filters.status.delete(s);
          load();
        },
      }),
      h('label', { for: id }, humanize(s)));
  });
  const prioId = nextId('f-priority');
  const qId = nextId('f-q');
  const sortId = nextId('f-sort');
  const filterBar = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter tasks', onsubmit: (e) => e.preventDefault() },
    h('fieldset', null, h('legend', null, 'Status'), statusBoxes),
    h('div', { class: 'field' },
      h('label', { for: prioId }, 'Priority'),
      h('select', {
        id: prioId, onchange: (ev) => { filters.priority = ev.target.value; load(); },
      }, h('option', { value: '' }, 'Any'), PRIORITIES.map((p) => h('option', { value: p, selected: p === filters.priority }, humanize(p))))),
    h('div', { class: 'field' },
      h('label', { for: qId }, 'Search'),
      h('input', { id: qId, type: 'search', value: filters.q, oninput: debounce((ev) => { filters.q = ev.target.value.trim(); load(); }, 300) })),
    h('span', { class: 'check' },
      h('input', { type: 'checkbox', id: sortId, checked: filters.sort, onchange: (ev) => { filters.sort = ev.target.checked; load(); } }),
      h('label', { for: sortId }, 'Sort by due date')));

  const list = h('ul', { class: 'task-list', 'aria-label': 'Tasks', 'aria-live': 'polite' });
  const status = h('div');
  const more = h('div');

  main.append(pageHeader('Tasks'), createForm, filterBar, status, list, more);

  function params() {
    return {
      status: [...filters.status],
      priority: filters.priority,
      q: filters.q,
      sort: filters.sort ? 'due_date' : undefined,
      limit: 50,
    };
  }

  function edit(task, li) {
    editing = task.id;
    const form = h('form', { class: 'form edit-form', 'aria-label': `Edit ${task.title}` },
      formError(),
      field({ label: 'Title', name: 'title', value: task.title, required: true }),
      field({ label: 'Description', name: 'description', type: 'textarea', rows: 2, value: task.description || '' }),
      h('div', { class: 'row wrap' },
        field({ label: 'Priority', name: 'priority', type: 'select', options: PRIORITIES.map((p) => [p, humanize(p)]), value: task.priority }),
        field({ label: 'Due date', name: 'due_date', type: 'date', value: task.due_date || '' }),
        field({ label: 'Due time', name: 'due_time', type: 'time', value: task.due_time ? task.due_time.slice(0, 5) : '' })),
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'primary' }, 'Save'),
        h('button', { type: 'button', class: 'secondary', onclick: () => done() }, 'Cancel')));
    onSubmit(form, async (v) => {
      try {
        await api.patch(`/tasks/${task.id}`, cleanTask(v), { headers: ifMatch(task) });
      } catch (err) {
        if (err.status === 412) {
          toast('This task was changed elsewhere; showing the latest version.', 'error');
          done();
          return;
        }
        throw err;
      }
      toast('Task saved.');
      done();
    });
    const done = () => {
      editing = null;
      load();
    };
    li.replaceWith(h('li', { class: 'task editing' }, form));
    form.querySelector('input').focus();
  }

  async function load(append = false) {
    // While a task is being edited inline, changes wait; finishing the edit reloads.
    if (editing) return;
    try {
      const page = await api.get('/tasks', { ...params(), cursor: append ? cursor : undefined });
      // An edit that started while this page was loading keeps its form.
      if (editing) return;
      cursor = page.next_cursor;
      const items = (page.data || []).map((t) => taskItem(t, { onChanged: () => load(), onEdit: edit }));
      if (append) list.append(...items);
      else replace(list, ...items);
      replace(status, !append && !items.length
        ? emptyState(filters.status.size || filters.priority || filters.q ? 'No tasks match these filters.' : 'No tasks yet. Add your first one above.')
        : null);
      replace(more, cursor ? moreButton(() => load(true)) : null);
    } catch (err) {
      replace(list);
      replace(status, loadError(err, 'Tasks are'));
    }
  }

  load();
  const reload = debounce(() => load(), 200);
  const unsub = subscribe(['task.', 'events.resync'], reload);
  return unsub;
}
