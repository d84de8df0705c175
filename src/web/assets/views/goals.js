// Goals with progress bars; a goal's page shows its linked tasks, lets the person add tasks,
// change status/progress, and ask the AI planner to break the goal into tasks.

import { api, ifMatch, has } from '../api.js';
import { subscribe } from '../events.js';
import {
  h, replace, field, formError, onSubmit, pageHeader, toast, fmtDate, loadError, debounce, badge,
  humanize, emptyState, moreButton, confirmAction, progressBar, nextId, definitionList,
} from '../ui.js';
import { taskItem, PRIORITIES } from './tasks.js';

export const TIMEFRAMES = ['daily', 'weekly', 'monthly', 'quarterly', 'yearly', 'long_term'];
const STATUSES = ['active', 'completed', 'abandoned'];

export function list(main, _params, query) {
  const state = { timeframe: query.get('timeframe') || '', status: query.get('status') || 'active' };
  let cursor = null;

  const createForm = h('form', { class: 'form inline-form', 'aria-labelledby': 'new-goal-h' },
    h('h2', { id: 'new-goal-h', class: 'visually-hidden' }, 'New goal'),
    formError(),
    h('div', { class: 'row wrap' },
      field({ label: 'New goal', name: 'title', required: true, placeholder: 'What do you want to achieve?' }),
      field({ label: 'Timeframe', name: 'timeframe', type: 'select', options: TIMEFRAMES.map((t) => [t, humanize(t)]), value: 'monthly' }),
      field({ label: 'Due date', name: 'due_date', type: 'date' }),
      h('button', { type: 'submit', class: 'primary align-end' }, 'Add goal')),
    h('details', null, h('summary', null, 'More options'),
      field({ label: 'Description', name: 'description', type: 'textarea', rows: 2 })));
  onSubmit(createForm, async (v, form) => {
    const body = { title: v.title.trim(), timeframe: v.timeframe };
    if (v.due_date) body.due_date = v.due_date;
    if (v.description.trim()) body.description = v.description.trim();
    await api.post('/goals', body);
    form.reset();
    toast('Goal added.');
    load();
  });

  const tfId = nextId('gtf');
  const stId = nextId('gst');
  const filters = h('form', { class: 'filters', 'aria-label': 'Filter goals', onsubmit: (e) => e.preventDefault() },
    h('div', { class: 'field' }, h('label', { for: tfId }, 'Timeframe'),
      h('select', { id: tfId, onchange: (e) => { state.timeframe = e.target.value; load(); } },
        h('option', { value: '' }, 'Any'),
        TIMEFRAMES.map((t) => h('option', { value: t, selected: t === state.timeframe }, humanize(t))))),
    h('div', { class: 'field' }, h('label', { for: stId }, 'Status'),
      h('select', { id: stId, onchange: (e) => { state.status = e.target.value; load(); } },
        h('option', { value: '' }, 'Any'),
        STATUSES.map((t) => h('option', { value: t, selected: t === state.status }, humanize(t))))));

  const listEl = h('ul', { class: 'card-list', 'aria-label': 'Goals' });
  const status = h('div');
  const more = h('div');
  main.append(pageHeader('Goals'), createForm, filters, status, listEl, more);

  async function load(append = false) {
    try {
      const page = await api.get('/goals', { ...state, limit: 30, cursor: append ? cursor : undefined });
      cursor = page.next_cursor;
      const items = (page.data || []).map((g) => h('li', { class: 'card goal-card' },
        h('h2', { class: 'card-title' }, h('a', { href: `#/goals/${g.id}` }, g.title),
          badge(humanize(g.timeframe), 'info'), g.status !== 'active' ? badge(humanize(g.status)) : null),
        progressBar(g.progress, `Progress of ${g.title}`),
        g.due_date ? h('p', { class: 'meta' }, `Due ${fmtDate(g.due_date)}`) : null));
      if (append) listEl.append(...items);
      else replace(listEl, ...items);
      replace(status, !append && !items.length ? emptyState('No goals here yet.') : null);
      replace(more, cursor ? moreButton(() => load(true)) : null);
    } catch (err) {
      replace(listEl);
      replace(status, loadError(err, 'Goals are'));
    }
  }
  load();
  return subscribe(['goal.', 'task.', 'events.resync'], debounce(() => load(), 250));
}

export async function detail(main, params) {
  let goal;
  const header = pageHeader('Goal');
  const summary = h('section', { class: 'panel' });
  const tasksBox = h('section', { class: 'panel', 'aria-labelledby': 'goal-tasks-h' });
  main.append(header, summary, tasksBox);

  async function loadGoal() {
    try {
      goal = await api.get(`/goals/${params.id}`);
    } catch (err) {
      replace(summary, err.status === 404
        ? h('p', null, 'This goal does not exist (or was deleted). ', h('a', { href: '#/goals' }, 'Back to goals'))
        : loadError(err));
      replace(tasksBox);
      return false;
    }
    replace(header.querySelector('h1'), goal.title);
    renderSummary();
    return true;
  }

  function renderSummary() {
    const form = h('form', { class: 'form', 'aria-label': 'Edit goal' },
      formError(),
      progressBar(goal.progress, `Progress of ${goal.title}`),
      definitionList([
        ['Timeframe', humanize(goal.timeframe)],
        ['Due', fmtDate(goal.due_date)],
        goal.description ? ['Description', goal.description] : null,
      ]),
      h('div', { class: 'row wrap' },
        field({ label: 'Status', name: 'status', type: 'select', options: STATUSES.map((s) => [s, humanize(s)]), value: goal.status }),
        field({ label: 'Progress (%)', name: 'progress', type: 'number', min: 0, max: 100, value: goal.progress, hint: 'Follows the linked tasks when there are any.' }),
        h('button', { type: 'submit', class: 'primary align-end' }, 'Save')),
      h('div', { class: 'row' },
        has('/goals/{id}/plan') ? h('button', { type: 'button', class: 'secondary', onclick: plan }, 'Plan with AI') : null,
        h('a', { class: 'button secondary', href: '#/goals' }, 'Back to goals'),
        h('span', { class: 'spacer' }),
        h('button', { type: 'button', class: 'danger', onclick: remove }, 'Delete goal')));
    onSubmit(form, async (v) => {
      const body = { status: v.status };
      const p = Number(v.progress);
      if (String(p) !== String(goal.progress)) body.progress = p;
      try {
        goal = await api.patch(`/goals/${goal.id}`, body, { headers: ifMatch(goal) });
      } catch (err) {
        if (err.status === 412) {
          toast('This goal changed elsewhere; showing the latest version.', 'error');
          await loadGoal();
          return;
        }
        throw err;
      }
      toast('Goal saved.');
      renderSummary();
    });
    replace(summary, form);
  }

  async function plan(ev) {
    const btn = ev.target;
    btn.disabled = true;
    btn.textContent = 'Planning…';
    try {
      const res = await api.post(`/goals/${goal.id}/plan`, {});
      toast(`The planner added ${(res.tasks || []).length} tasks.`);
      await loadTasks();
    } catch (err) {
      toast(err.status === 402 ? 'Not enough credits for the planner. Add credits in the wallet.' : (err.detail || 'Planning failed.'), 'error');
    } finally {
      btn.disabled = false;
      btn.textContent = 'Plan with AI';
    }
  }

  async function remove() {
    if (!confirmAction(`Delete the goal “${goal.title}”?`)) return;
    try {
      await api.del(`/goals/${goal.id}`);
      toast('Goal deleted.');
      location.hash = '#/goals';
    } catch (err) {
      toast(err.detail || 'Could not delete the goal.', 'error');
    }
  }

  const addForm = h('form', { class: 'form inline-form', 'aria-label': 'Add a task to this goal' },
    formError(),
    h('div', { class: 'row wrap' },
      field({ label: 'New task for this goal', name: 'title', required: true }),
      field({ label: 'Priority', name: 'priority', type: 'select', options: PRIORITIES.map((p) => [p, humanize(p)]), value: 'medium' }),
      h('button', { type: 'submit', class: 'primary align-end' }, 'Add task')));
  onSubmit(addForm, async (v, form) => {
    await api.post('/tasks', { title: v.title.trim(), priority: v.priority, goal_id: goal.id });
    form.reset();
    await loadTasks();
    await loadGoal();
  });

  async function loadTasks() {
    const list = h('ul', { class: 'task-list', 'aria-label': 'Linked tasks' });
    try {
      const page = await api.get(`/goals/${goal.id}/tasks`, { limit: 100 });
      const rows = page.data || [];
      list.append(...rows.map((t) => taskItem(t, { onChanged: () => { loadTasks(); loadGoal(); } })));
      replace(tasksBox, h('h2', { id: 'goal-tasks-h' }, 'Linked tasks'),
        rows.length ? list : emptyState('No tasks linked yet.'), addForm);
    } catch (err) {
      replace(tasksBox, h('h2', { id: 'goal-tasks-h' }, 'Linked tasks'), loadError(err, 'Linked tasks are'));
    }
  }

  if (await loadGoal()) await loadTasks();
  return subscribe(['goal.', 'task.', 'events.resync'], debounce(async (ev) => {
    if (!goal) return;
    if (ev.type === 'goal.deleted' && ev.data?.id === goal.id) {
      replace(summary, h('p', { class: 'notice notice-warn' }, 'This goal was deleted.'));
      return;
    }
    if (summary.contains(document.activeElement)) return; // don't yank the form away mid-edit
    if (await loadGoal()) await loadTasks();
  }, 250));
}
