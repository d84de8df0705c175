// Home: a glance at today — open tasks, active goals, the wallet — and quick ways in.

import { api, has, currentUserInfo } from '../api.js';
import { subscribe } from '../events.js';
import { h, replace, pageHeader, fmtDate, fmtCredits, progressBar, humanize, debounce, badge } from '../ui.js';

function card(title, body, link) {
  return h('section', { class: 'card' },
    h('h2', null, title),
    body,
    link ? h('p', { class: 'card-link' }, h('a', { href: link[0] }, link[1])) : null);
}

function notHere() {
  return h('p', { class: 'muted' }, 'Not available on this server.');
}

async function tasksCard(slot) {
  if (!has('/tasks')) return replace(slot, card('Open tasks', notHere()));
  try {
    const page = await api.get('/tasks', { status: ['todo', 'in_progress'], sort: 'due_date', limit: 6 });
    const rows = page.data || [];
    replace(slot, card('Open tasks',
      rows.length
        ? h('ul', { class: 'plain-list' }, rows.map((t) => h('li', null,
          h('span', null, t.title), ' ',
          badge(humanize(t.priority), t.priority),
          t.due_date ? h('span', { class: 'muted' }, ` due ${fmtDate(t.due_date)}`) : null)))
        : h('p', { class: 'muted' }, 'Nothing open. Enjoy the calm.'),
      ['#/tasks', 'All tasks']));
  } catch (err) {
    replace(slot, card('Open tasks', h('p', { class: 'muted' }, err.detail || 'Could not load tasks.')));
  }
}

async function goalsCard(slot) {
  if (!has('/goals')) return replace(slot, card('Active goals', notHere()));
  try {
    const page = await api.get('/goals', { status: 'active', limit: 5 });
    const rows = page.data || [];
    replace(slot, card('Active goals',
      rows.length
        ? h('ul', { class: 'plain-list' }, rows.map((g) => h('li', null,
          h('a', { href: `#/goals/${g.id}` }, g.title),
          progressBar(g.progress, `Progress of ${g.title}`))))
        : h('p', { class: 'muted' }, 'No active goals yet.'),
      ['#/goals', 'All goals']));
  } catch (err) {
    replace(slot, card('Active goals', h('p', { class: 'muted' }, err.detail || 'Could not load goals.')));
  }
}

async function walletCard(slot) {
  if (!has('/wallet')) return replace(slot, card('Wallet', notHere()));
  try {
    const w = await api.get('/wallet');
    replace(slot, card('Wallet',
      h('p', { class: 'big-number' }, fmtCredits(w.available ?? w.balance)),
      ['#/wallet', 'Wallet and transactions']));
  } catch (err) {
    replace(slot, card('Wallet', h('p', { class: 'muted' }, err.detail || 'Could not load the wallet.')));
  }
}

export function home(main) {
  const user = currentUserInfo();
  const name = user?.full_name || user?.email || '';
  const tasks = h('div');
  const goals = h('div');
  const wallet = h('div');
  main.append(
    pageHeader(`Hello${name ? `, ${name}` : ''}`),
    h('div', { class: 'quick' },
      h('a', { class: 'button primary', href: '#/talk' }, 'Talk to your assistant'),
      h('a', { class: 'button secondary', href: '#/chat' }, 'Open chat'),
      h('a', { class: 'button secondary', href: '#/notes' }, 'Write a note')),
    h('div', { class: 'cards' }, tasks, goals, wallet));
  const load = () => {
    tasksCard(tasks);
    goalsCard(goals);
    walletCard(wallet);
  };
  load();
  const reload = debounce(load, 300);
  const unsubs = [
    subscribe(['task.', 'goal.', 'wallet.updated', 'events.resync'], reload),
  ];
  return () => unsubs.forEach((u) => u());
}
