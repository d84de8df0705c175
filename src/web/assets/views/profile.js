// Profile: name, time zone and language; password; active sessions; sign out everywhere.

import * as client from '../api.js';
import { api } from '../api.js';
import {
  h, replace, field, formError, onSubmit, pageHeader, toast, fmtDateTime, loadError, confirmAction,
} from '../ui.js';
import { phonePanel } from './phone.js';

function timezones() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
}

export async function profile(main) {
  main.append(pageHeader('Profile'));
  let me;
  try {
    me = await api.get('/users/me');
  } catch (err) {
    main.append(loadError(err));
    return;
  }

  const tzList = h('datalist', { id: 'tz-list' }, timezones().map((z) => h('option', { value: z })));
  const profileForm = h('form', { class: 'form', 'aria-labelledby': 'profile-h' },
    h('h2', { id: 'profile-h' }, 'About you'),
    formError(),
    h('p', { class: 'muted' }, 'Signed in as ', h('strong', null, me.email)),
    field({ label: 'Full name', name: 'full_name', value: me.full_name || '', autocomplete: 'name' }),
    field({ label: 'Time zone', name: 'timezone', value: me.timezone, list: 'tz-list', hint: 'Used for due dates and your assistant\u2019s sense of “today”.' }),
    field({ label: 'Language', name: 'locale', value: me.locale, hint: 'A language tag such as en or en-US.' }),
    tzList,
    h('button', { type: 'submit', class: 'primary' }, 'Save profile'));
  onSubmit(profileForm, async (v) => {
    const updated = await api.patch('/users/me', {
      full_name: v.full_name.trim() || null,
      timezone: v.timezone.trim(),
      locale: v.locale.trim(),
    });
    client.setCurrentUser(updated);
    toast('Profile saved.');
  });

  const pwForm = h('form', { class: 'form', 'aria-labelledby': 'pw-h' },
    h('h2', { id: 'pw-h' }, 'Password'),
    formError(),
    field({ label: 'Current password', name: 'current_password', type: 'password', required: true, autocomplete: 'current-password' }),
    field({ label: 'New password', name: 'new_password', type: 'password', required: true, autocomplete: 'new-password' }),
    h('button', { type: 'submit', class: 'secondary' }, 'Change password'));
  onSubmit(pwForm, async (v, form) => {
    await api.post('/auth/password', v);
    form.reset();
    toast('Password changed. Your other sessions were signed out.');
    loadSessions();
  });

  const sessions = h('div', { 'aria-live': 'polite' });
  const sessionsBox = h('section', { class: 'panel', 'aria-labelledby': 'sessions-h' },
    h('h2', { id: 'sessions-h' }, 'Where you are signed in'),
    sessions,
    h('div', { class: 'row' },
      h('button', {
        type: 'button', class: 'secondary',
        onclick: async () => {
          await api.post('/auth/logout', { scope: 'others' });
          toast('Signed out of every other session.');
          loadSessions();
        },
      }, 'Sign out other sessions'),
      h('button', {
        type: 'button', class: 'danger',
        onclick: async () => {
          if (!confirmAction('Sign out everywhere, including here?')) return;
          await client.logout('global');
        },
      }, 'Sign out everywhere')));

  async function loadSessions() {
    try {
      const list = await api.get('/auth/sessions');
      const rows = list.data || list;
      const mine = client.currentSessionId();
      replace(sessions, h('ul', { class: 'plain-list sessions' }, rows.map((s) => h('li', null,
        h('div', null,
          h('strong', null, s.user_agent ? shortAgent(s.user_agent) : 'Unknown device'),
          s.id === mine ? h('span', { class: 'badge badge-ok' }, 'this device') : null,
          h('span', { class: 'muted' }, ` · ${s.ip || ''} · last used ${fmtDateTime(s.last_used_at)}`)),
        h('button', {
          type: 'button', class: 'link-button', 'aria-label': `Revoke session from ${fmtDateTime(s.created_at)}`,
          onclick: async () => {
            await api.del(`/auth/sessions/${s.id}`);
            loadSessions();
          },
        }, 'Revoke')))));
    } catch (err) {
      replace(sessions, loadError(err));
    }
  }
  loadSessions();

  main.append(h('div', { class: 'two-col' }, profileForm, pwForm), phonePanel(), sessionsBox);
}

function shortAgent(ua) {
  const m = /(Firefox|Chrome|Chromium|Safari|Edg)\/[\d.]+/.exec(ua);
  const os = /(Android|iPhone|iPad|Mac OS X|Windows|Linux)/.exec(ua);
  return [m ? m[1] : ua.slice(0, 40), os ? os[1] : null].filter(Boolean).join(' on ');
}
