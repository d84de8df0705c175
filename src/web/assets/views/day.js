// Day: plan a day (open tasks placed into free time), then lock, move or delete its blocks.
// Times are shown and entered in the plan's time zone (the user's).

import { api } from '../api.js';
import { subscribe } from '../events.js';
import {
  h, replace, field, formError, onSubmit, pageHeader, toast, loadError, debounce, badge,
  humanize, emptyState, confirmAction,
} from '../ui.js';

function todayIso() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** "HH:MM" of an instant in a time zone. */
function clock(iso, tz) {
  return new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: tz })
    .format(new Date(iso));
}

/** Milliseconds the zone is ahead of UTC at an instant. */
function offsetAt(ms, tz) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
  return asUtc - ms;
}

/** The instant of a wall-clock time ("HH:MM") on a date in a time zone, as RFC 3339. */
function instantOf(date, hm, tz) {
  const [y, m, d] = date.split('-').map(Number);
  const [hh, mm] = hm.split(':').map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  let t = wall - offsetAt(wall, tz);
  t = wall - offsetAt(t, tz);
  return new Date(t).toISOString();
}

export async function day(main, _params, query) {
  let date = query.get('date') || todayIso();
  let plan = null;

  const dateField = field({ label: 'Day', name: 'date', type: 'date', value: date, required: true });
  const form = h('form', { class: 'form', 'aria-labelledby': 'plan-h' },
    h('h2', { id: 'plan-h' }, 'Plan the day'),
    formError(),
    h('div', { class: 'row wrap' },
      dateField,
      field({ label: 'Start', name: 'work_start', type: 'time', hint: 'Default from your preferences (09:00)' }),
      field({ label: 'Cutoff', name: 'cutoff', type: 'time', hint: 'Default 18:00' }),
      field({ label: 'Buffer (minutes)', name: 'buffer_minutes', type: 'number', min: 0, max: 240 })),
    field({ label: 'Keep the blocks already planned (only add what is missing)', name: 'keep', type: 'checkbox' }),
    h('button', { type: 'submit', class: 'primary' }, 'Plan my day'));
  dateField.querySelector('input').addEventListener('change', (ev) => {
    date = ev.target.value || todayIso();
    load();
  });
  onSubmit(form, async (v) => {
    const body = { date: v.date || date };
    if (v.work_start) body.work_start = v.work_start;
    if (v.cutoff) body.cutoff = v.cutoff;
    if (v.buffer_minutes !== '') body.buffer_minutes = Number(v.buffer_minutes);
    if (v.keep) body.replace = false;
    plan = await api.post('/schedule/plan', body);
    date = plan.date;
    const placed = plan.blocks.filter((b) => b.kind === 'task').length;
    toast(`Planned ${placed} ${placed === 1 ? 'task' : 'tasks'}.`);
    show();
  });

  const blocksEl = h('ol', { class: 'card-list', 'aria-label': 'Blocks of the day' });
  const status = h('div');
  const leftEl = h('div');
  main.append(pageHeader('Day'), form, h('h2', null, 'Schedule'), status, blocksEl, leftEl);

  function blockItem(b) {
    const tz = plan.timezone;
    const startInput = h('input', {
      type: 'time', value: clock(b.start, tz), 'aria-label': `New start of ${b.title}`,
    });
    const act = async (body, done) => {
      try {
        await api.patch(`/schedule/blocks/${b.id}`, body);
        toast(done);
        load();
      } catch (err) {
        toast(err.detail || 'Could not change the block.', 'error');
      }
    };
    return h('li', { class: 'card', 'data-block': b.id },
      h('div', { class: 'meta' },
        h('strong', null, `${clock(b.start, tz)}–${clock(b.end, tz)}`), ' ',
        badge(humanize(b.kind), b.kind === 'task' ? 'info' : ''), ' ',
        b.locked ? badge('Locked', 'warn') : null,
        b.source !== 'plan' ? [' ', badge(humanize(b.source))] : null),
      h('p', null, b.task_id ? h('a', { href: '#/tasks' }, b.title) : b.title),
      h('div', { class: 'row wrap block-actions' },
        h('button', {
          type: 'button', class: 'link-button', 'aria-label': `${b.locked ? 'Unlock' : 'Lock'} ${b.title}`,
          onclick: () => act({ locked: !b.locked }, b.locked ? 'Unlocked.' : 'Locked: it stays when you plan again.'),
        }, b.locked ? 'Unlock' : 'Lock'),
        startInput,
        h('button', {
          type: 'button', class: 'link-button', 'aria-label': `Move ${b.title}`,
          onclick: () => {
            if (!startInput.value) return;
            act({ start: instantOf(plan.date, startInput.value, tz) }, 'Moved.');
          },
        }, 'Move'),
        h('button', {
          type: 'button', class: 'link-button danger-text', 'aria-label': `Delete block ${b.title}`,
          onclick: async () => {
            if (!confirmAction(`Remove "${b.title}" from the day?`)) return;
            try {
              await api.del(`/schedule/blocks/${b.id}`);
              load();
            } catch (err) {
              toast(err.detail || 'Could not delete.', 'error');
            }
          },
        }, 'Delete')));
  }

  function show() {
    if (!plan) {
      replace(blocksEl);
      replace(status, emptyState('Nothing is planned for this day yet.'));
      replace(leftEl);
      return;
    }
    replace(status, (plan.warnings || []).length
      ? h('p', { class: 'form-error', role: 'alert' },
        `Planned without ${plan.warnings.map((w) => `${w.source} (${w.error})`).join(', ')}.`)
      : null);
    replace(blocksEl, ...plan.blocks.map(blockItem));
    if (!plan.blocks.length) replace(status, emptyState('No blocks: nothing fitted.'));
    replace(leftEl, plan.unscheduled.length
      ? [h('h2', null, 'Did not fit'),
        h('ul', { class: 'card-list', 'aria-label': 'Unscheduled tasks' },
          plan.unscheduled.map((u) => h('li', { class: 'card' },
            h('strong', null, u.title), ' ', badge(humanize(u.code), 'warn'),
            h('p', null, u.reason))))]
      : null);
  }

  async function load() {
    try {
      plan = await api.get('/schedule', { date });
    } catch (err) {
      if (err.status === 404) {
        plan = null;
      } else {
        replace(blocksEl);
        replace(status, loadError(err, 'The schedule is'));
        return;
      }
    }
    show();
  }
  load();
  return subscribe(['schedule.', 'schedule_block.', 'events.resync'], debounce(() => load(), 250));
}
