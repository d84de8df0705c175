// Wallet: balance, reserved and available credits, the ledger, and test-mode top-ups.

import { api, has, idempotencyKey } from '../api.js';
import { subscribe } from '../events.js';
import {
  h, replace, field, formError, onSubmit, pageHeader, toast, loadError, debounce, badge, humanize,
  emptyState, moreButton, fmtDateTime, nextId,
} from '../ui.js';

export function wallet(main) {
  const cards = h('div', { class: 'cards stats', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
    h('caption', { class: 'visually-hidden' }, 'Transactions, newest first'),
    h('thead', null, h('tr', null, ['When', 'Kind', 'Description', 'Amount', 'Balance after'].map((c) => h('th', { scope: 'col' }, c)))),
    tbody));
  const status = h('div');
  const more = h('div');
  let cursor = null;

  // One key per top-up attempt: a retry of the same attempt (e.g. after a network error)
  // reuses it so the server credits once; a new key is made after success.
  let key = idempotencyKey();
  const amountId = nextId('amount');
  const topup = h('form', { class: 'form inline-form', 'aria-labelledby': 'topup-h' },
    h('h2', { id: 'topup-h' }, 'Add credits'),
    h('p', { class: 'muted' }, 'Test mode: credits are added at once without payment. Servers using a real payment provider refuse this.'),
    formError(),
    h('div', { class: 'row wrap' },
      field({ id: amountId, label: 'Amount (credits)', name: 'amount', type: 'number', min: 1, step: 1, required: true, value: 500 }),
      h('button', { type: 'submit', class: 'primary align-end' }, 'Add credits')));
  topup.addEventListener('input', () => { key = idempotencyKey(); });
  onSubmit(topup, async (v) => {
    await api.post('/wallet/add-credits', { amount: Number(v.amount) }, { headers: { 'Idempotency-Key': key } });
    key = idempotencyKey();
    toast(`${Number(v.amount).toLocaleString()} credits added.`);
    load();
  });

  const pricing = h('div');
  main.append(pageHeader('Wallet'), cards,
    has('/wallet/add-credits') ? topup : null,
    h('h2', null, 'Transactions'), status, table, more, pricing);

  async function loadWallet() {
    try {
      const w = await api.get('/wallet');
      replace(cards,
        stat('Balance', w.balance, 'balance'),
        stat('Reserved', w.reserved, 'reserved', 'Held for calls in progress'),
        stat('Available', w.available, 'available'));
    } catch (err) {
      replace(cards, loadError(err, 'The wallet is'));
    }
  }

  async function loadTransactions(append = false) {
    try {
      const page = await api.get('/wallet/transactions', { limit: 30, cursor: append ? cursor : undefined });
      cursor = page.next_cursor;
      const rows = (page.data || []).map((t) => h('tr', null,
        h('td', { 'data-label': 'When' }, fmtDateTime(t.created_at)),
        h('td', { 'data-label': 'Kind' }, badge(humanize(t.kind), t.amount < 0 ? 'warn' : 'ok')),
        h('td', { 'data-label': 'Description' }, t.description || (t.reference_type ? humanize(t.reference_type) : '—')),
        h('td', { 'data-label': 'Amount', class: `num ${t.amount < 0 ? 'neg' : 'pos'}` }, `${t.amount > 0 ? '+' : ''}${Number(t.amount).toLocaleString()}`),
        h('td', { 'data-label': 'Balance after', class: 'num' }, Number(t.balance_after).toLocaleString())));
      if (append) tbody.append(...rows);
      else replace(tbody, ...rows);
      table.hidden = !tbody.children.length;
      replace(status, !append && !rows.length ? emptyState('No transactions yet.') : null);
      replace(more, cursor ? moreButton(() => loadTransactions(true)) : null);
    } catch (err) {
      table.hidden = true;
      replace(status, loadError(err, 'Transactions are'));
    }
  }

  async function loadPricing() {
    if (!has('/pricing')) return;
    try {
      const p = await api.get('/pricing', undefined, { auth: false });
      const rows = Array.isArray(p) ? p : p.data || Object.entries(p).map(([unit, price]) => ({ unit, price }));
      replace(pricing, h('details', { class: 'panel' }, h('summary', null, 'Prices'),
        h('ul', { class: 'plain-list' }, rows.map((r) => h('li', null,
          h('strong', null, humanize(r.unit || r.name || r.key || '')), ': ',
          typeof (r.price ?? r.credits ?? r.price_credits) === 'object'
            ? JSON.stringify(r.price ?? r.credits ?? r.price_credits)
            : `${r.price ?? r.credits ?? r.price_credits} credits${r.per ? ` per ${r.per}` : ''}`)))));
    } catch {
      replace(pricing);
    }
  }

  function load() {
    loadWallet();
    loadTransactions();
  }
  load();
  loadPricing();
  return subscribe(['wallet.updated', 'events.resync'], debounce(load, 250));
}

function stat(label, value, cls, hint) {
  return h('section', { class: `card stat stat-${cls}` },
    h('h2', null, label),
    h('p', { class: 'big-number' }, value === undefined || value === null ? '—' : Number(value).toLocaleString()),
    h('p', { class: 'muted' }, hint || 'credits'));
}
