// Notifications: what the assistant raised (reminders, schedule, agents…), newest first,
// with their deliveries; acknowledge one to stop its escalation. Web Push opt-in on top.

import { api } from '../api.js';
import { subscribe } from '../events.js';
import { currentPush, disablePush, enablePush, pushSupported } from '../notify.js';
import {
  h, replace, pageHeader, toast, fmtDateTime, loadError, debounce, badge, humanize, emptyState,
  moreButton,
} from '../ui.js';

const PRIORITY_KIND = { urgent: 'danger', high: 'warn', normal: 'info', low: '' };

function deliveryLine(d) {
  const text = `${humanize(d.channel)}: ${d.status}${d.detail ? ` (${d.detail})` : ''}`;
  return h('li', null, text, ' · ', fmtDateTime(d.at));
}

async function pushControls() {
  const box = h('section', { class: 'form', 'aria-labelledby': 'push-h' },
    h('h2', { id: 'push-h' }, 'Push notifications'));
  if (!pushSupported()) {
    box.append(h('p', { class: 'muted' }, 'This browser (or this server) does not offer Web Push.'));
    return box;
  }
  const status = h('p', { role: 'status' });
  const button = h('button', { type: 'button', class: 'primary', id: 'push-toggle' });
  const render = async () => {
    const sub = await currentPush().catch(() => null);
    status.textContent = sub ? 'This browser receives push notifications.' : 'Push notifications are off in this browser.';
    button.textContent = sub ? 'Turn off push' : 'Turn on push';
    button.dataset.on = String(Boolean(sub));
  };
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      if (button.dataset.on === 'true') {
        await disablePush();
        toast('Push notifications turned off.');
      } else {
        await enablePush();
        toast('Push notifications turned on.');
      }
    } catch (err) {
      toast(err.detail || err.message || 'Could not change push notifications.', 'error');
    } finally {
      button.disabled = false;
      render();
    }
  });
  box.append(status, button);
  await render();
  return box;
}

export async function notifications(main) {
  let cursor = null;
  let unreadOnly = false;
  const listEl = h('ul', { class: 'card-list', 'aria-label': 'Notifications', id: 'notification-list' });
  const status = h('div');
  const more = h('div');
  const filter = h('label', { class: 'row' },
    h('input', {
      type: 'checkbox',
      onchange: (ev) => { unreadOnly = ev.target.checked; load(); },
    }), ' Unread only');
  main.append(pageHeader('Notifications'), await pushControls(), h('h2', null, 'Recent'), filter, status, listEl, more);

  function item(n) {
    const acked = n.status === 'acknowledged';
    return h('li', { class: 'card', 'data-id': n.id, 'data-status': n.status },
      h('div', { class: 'meta' },
        badge(humanize(n.kind), 'info'), ' ', badge(n.priority, PRIORITY_KIND[n.priority] || ''), ' ',
        badge(humanize(n.status), acked ? 'ok' : ''), ' ', fmtDateTime(n.created_at)),
      h('h3', null, n.source_type === 'task' && n.source_id
        ? h('a', { href: '#/tasks' }, n.title)
        : n.title),
      n.body ? h('p', { class: 'prewrap' }, n.body) : null,
      n.deliveries?.length
        ? h('details', null, h('summary', null, `Deliveries (${n.deliveries.length})`),
          h('ul', null, n.deliveries.map(deliveryLine)))
        : null,
      acked ? null : h('button', {
        type: 'button',
        class: 'ack-button',
        'aria-label': `Acknowledge ${n.title}`,
        onclick: async (ev) => {
          ev.target.disabled = true;
          try {
            await api.post(`/notifications/${n.id}/ack`, {});
            load();
          } catch (err) {
            ev.target.disabled = false;
            toast(err.detail || 'Could not acknowledge.', 'error');
          }
        },
      }, 'Acknowledge'));
  }

  async function load(append = false) {
    try {
      const query = { limit: 20, cursor: append ? cursor : undefined };
      if (unreadOnly) query.unread = 'true';
      const page = await api.get('/notifications', query);
      cursor = page.next_cursor;
      const items = (page.data || []).map(item);
      if (append) listEl.append(...items);
      else replace(listEl, ...items);
      replace(status, !append && !items.length ? emptyState('Nothing to see yet.') : null);
      replace(more, cursor ? moreButton(() => load(true)) : null);
    } catch (err) {
      replace(listEl);
      replace(status, loadError(err, 'Notifications are'));
    }
  }
  load();
  return subscribe(['notification.', 'events.resync'], debounce(() => load(), 200));
}
