// Calls: the list (status, duration, cost) and one call's details, transcript and recording.

import { api, has, listAll, request } from '../api.js';
import { subscribe } from '../events.js';
import {
  h, replace, pageHeader, loadError, debounce, badge, humanize, emptyState, moreButton, fmtDateTime,
  fmtDuration, fmtCredits, definitionList, nextId, toast,
} from '../ui.js';

const STATUSES = ['queued', 'ringing', 'active', 'completed', 'failed', 'no_answer', 'busy'];
const STATUS_KIND = { completed: 'ok', active: 'info', ringing: 'info', queued: 'info', failed: 'error', no_answer: 'warn', busy: 'warn' };

async function agentNames() {
  if (!has('/agents')) return new Map();
  try {
    return new Map((await listAll('/agents', {}, 2)).map((a) => [a.id, a.name]));
  } catch {
    return new Map();
  }
}

export async function list(main) {
  const state = { status: '', channel: '' };
  let cursor = null;
  const names = await agentNames();
  const stId = nextId('cst');
  const chId = nextId('cch');
  const filters = h('form', { class: 'filters', 'aria-label': 'Filter calls', onsubmit: (e) => e.preventDefault() },
    h('div', { class: 'field' }, h('label', { for: stId }, 'Status'),
      h('select', { id: stId, onchange: (e) => { state.status = e.target.value; load(); } },
        h('option', { value: '' }, 'Any'), STATUSES.map((s) => h('option', { value: s }, humanize(s))))),
    h('div', { class: 'field' }, h('label', { for: chId }, 'Channel'),
      h('select', { id: chId, onchange: (e) => { state.channel = e.target.value; load(); } },
        h('option', { value: '' }, 'Any'), ['web', 'bolna_ws', 'twilio'].map((s) => h('option', { value: s }, humanize(s))))));
  const tbody = h('tbody');
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
    h('caption', { class: 'visually-hidden' }, 'Calls, newest first'),
    h('thead', null, h('tr', null,
      ['Started', 'Agent', 'Channel', 'Status', 'Duration', 'Cost', ''].map((c) => h('th', { scope: 'col' }, c)))),
    tbody));
  const status = h('div');
  const more = h('div');
  main.append(pageHeader('Calls', has('/voice/sessions') ? h('a', { class: 'button primary', href: '#/talk' }, 'Start a call') : null),
    filters, status, table, more);

  async function load(append = false) {
    try {
      const page = await api.get('/calls', { ...state, limit: 30, cursor: append ? cursor : undefined });
      cursor = page.next_cursor;
      const rows = (page.data || []).map((c) => h('tr', null,
        h('td', { 'data-label': 'Started' }, fmtDateTime(c.started_at || c.created_at)),
        h('td', { 'data-label': 'Agent' }, names.get(c.agent_id) || '—'),
        h('td', { 'data-label': 'Channel' }, humanize(c.channel), c.direction ? h('span', { class: 'muted' }, ` ${c.direction}`) : null),
        h('td', { 'data-label': 'Status' }, badge(humanize(c.status), STATUS_KIND[c.status])),
        h('td', { 'data-label': 'Duration' }, fmtDuration(c.duration_ms)),
        h('td', { 'data-label': 'Cost' }, fmtCredits(c.cost_credits)),
        h('td', null, h('a', { href: `#/calls/${c.id}`, 'aria-label': `Details of the call from ${fmtDateTime(c.started_at || c.created_at)}` }, 'Details'))));
      if (append) tbody.append(...rows);
      else replace(tbody, ...rows);
      table.hidden = !tbody.children.length;
      replace(status, !append && !rows.length ? emptyState('No calls yet.') : null);
      replace(more, cursor ? moreButton(() => load(true)) : null);
    } catch (err) {
      table.hidden = true;
      replace(status, loadError(err, 'Calls are'));
    }
  }
  load();
  return subscribe(['call.', 'events.resync'], debounce(() => load(), 250));
}

function transcriptRows(t) {
  if (!t) return [];
  if (Array.isArray(t)) return t;
  return t.data || t.messages || t.transcript || t.turns || [];
}

function objectList(obj) {
  if (!obj || typeof obj !== 'object') return '—';
  const entries = Object.entries(obj);
  if (!entries.length) return '—';
  return definitionList(entries.map(([k, v]) => [humanize(k), typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)]));
}

export async function detail(main, params) {
  main.append(pageHeader('Call'));
  let call;
  try {
    call = await api.get(`/calls/${params.id}`);
  } catch (err) {
    main.append(err.status === 404 ? emptyState('This call does not exist.') : loadError(err));
    return;
  }
  const names = await agentNames();
  const m = call.metrics || {};
  main.append(
    h('section', { class: 'panel', 'aria-labelledby': 'call-sum-h' },
      h('h2', { id: 'call-sum-h' }, 'Summary'),
      definitionList([
        ['Status', badge(humanize(call.status), STATUS_KIND[call.status])],
        ['Agent', names.get(call.agent_id) || call.agent_id || '—'],
        ['Channel', `${humanize(call.channel)}${call.direction ? ` (${call.direction})` : ''}`],
        call.from_number || call.to_number ? ['Numbers', `${call.from_number || '?'} → ${call.to_number || '?'}`] : null,
        ['Started', fmtDateTime(call.started_at)],
        ['Ended', fmtDateTime(call.ended_at)],
        ['Duration', fmtDuration(call.duration_ms)],
        ['Ended because', humanize(call.end_reason) || '—'],
        ['Cost', fmtCredits(call.cost_credits)],
        ['Turns', m.turns ?? '—'],
        ['Response latency', m.response_latency_ms_p50 !== undefined && m.response_latency_ms_p50 !== null
          ? `${m.response_latency_ms_p50} ms median, ${m.response_latency_ms_p95 ?? '—'} ms p95` : '—'],
        ['Interruptions', m.interruptions ?? '—'],
        call.conversation_id && has('/conversations') ? ['Conversation', h('a', { href: `#/chat/${call.conversation_id}` }, 'Open in chat')] : null,
      ])),
    h('div', { class: 'two-col' },
      h('section', { class: 'panel', 'aria-labelledby': 'call-usage-h' }, h('h2', { id: 'call-usage-h' }, 'Usage'), objectList(call.usage)),
      h('section', { class: 'panel', 'aria-labelledby': 'call-cost-h' }, h('h2', { id: 'call-cost-h' }, 'Cost breakdown'), objectList(call.cost_breakdown))));

  const recording = h('section', { class: 'panel', 'aria-labelledby': 'call-rec-h' },
    h('h2', { id: 'call-rec-h' }, 'Recording'),
    h('button', {
      type: 'button', class: 'secondary',
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          const res = await request('GET', `/calls/${call.id}/recording`, { raw: true, headers: { Accept: 'audio/wav' } });
          const url = URL.createObjectURL(await res.blob());
          ev.target.replaceWith(h('audio', { controls: true, src: url, 'aria-label': 'Call recording' }));
        } catch (err) {
          ev.target.disabled = false;
          toast(err.status === 404 ? 'This call has no recording (recording is off for its agent).' : (err.detail || 'Could not load the recording.'), 'error');
        }
      },
    }, 'Load recording'));
  if (has('/calls/{id}/recording')) main.append(recording);

  const transcript = h('section', { class: 'panel', 'aria-labelledby': 'call-tr-h' }, h('h2', { id: 'call-tr-h' }, 'Transcript'));
  main.append(transcript);
  try {
    const rows = transcriptRows(await api.get(`/calls/${call.id}/transcript`));
    transcript.append(rows.length
      ? h('ol', { class: 'messages transcript' }, rows.filter((r) => r.role !== 'system').map((r) => h('li', { class: `msg msg-${r.role || 'assistant'}` },
        h('div', { class: 'msg-role' }, r.role === 'user' ? 'Caller' : r.role === 'assistant' ? 'Agent' : humanize(r.role || r.speaker || '')),
        h('div', { class: 'msg-text' }, r.content ?? r.text ?? ''),
        r.created_at ? h('div', { class: 'msg-time' }, fmtDateTime(r.created_at)) : null)))
      : emptyState('No transcript for this call.'));
  } catch (err) {
    transcript.append(loadError(err, 'The transcript is'));
  }
}
