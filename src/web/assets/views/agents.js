// Agents: the built-in ones (read-only) and the person's own (create, edit, delete).

import { api, has, listAll } from '../api.js';
import { subscribe } from '../events.js';
import {
  h, replace, field, formError, onSubmit, pageHeader, toast, loadError, debounce, badge, emptyState,
  confirmAction, nextId,
} from '../ui.js';

const TOOLS = ['tasks', 'notes', 'goals', 'memories', 'reflections'];

export async function list(main) {
  main.append(pageHeader('Agents', h('a', { class: 'button primary', href: '#/agents/new' }, 'New agent')));
  const listEl = h('ul', { class: 'card-list agents', 'aria-label': 'Agents' });
  const status = h('div');
  main.append(status, listEl);

  async function load() {
    try {
      const rows = await listAll('/agents', {}, 5);
      replace(listEl, ...rows.map((a) => h('li', { class: 'card' },
        h('h2', { class: 'card-title' }, h('a', { href: `#/agents/${a.id}` }, a.name), a.is_builtin ? badge('built-in', 'info') : null),
        a.description ? h('p', null, a.description) : null,
        h('p', { class: 'meta' }, [
          a.llm ? `LLM ${a.llm.provider}/${a.llm.model}` : null,
          a.stt ? `STT ${a.stt.provider}` : null,
          a.tts ? `TTS ${a.tts.provider}${a.tts.voice ? ` (${a.tts.voice})` : ''}` : null,
        ].filter(Boolean).join(' · ')),
        h('div', { class: 'row' },
          has('/voice/sessions') ? h('a', { class: 'button secondary', href: `#/talk?agent=${a.id}` }, `Talk to ${a.name}`) : null,
          h('a', { class: 'button secondary', href: `#/agents/${a.id}` }, a.is_builtin ? 'View' : 'Edit')))));
      replace(status, rows.length ? null : emptyState('No agents yet.'));
    } catch (err) {
      replace(listEl);
      replace(status, loadError(err, 'Agents are'));
    }
  }
  load();
  return subscribe(['agent.', 'events.resync'], debounce(load, 250));
}

/** Names from the providers catalog, whatever its exact shape. */
function catalogNames(catalog) {
  const out = { llm: new Set(), stt: new Set(), tts: new Set(), models: new Set(), voices: new Set() };
  const visit = (p, kindHint) => {
    if (!p || typeof p !== 'object') return;
    const kind = String(p.kind || p.type || p.stage || kindHint || '').toLowerCase();
    if (p.name && out[kind]) out[kind].add(p.name);
    for (const m of p.models || []) out.models.add(typeof m === 'string' ? m : m.id || m.name);
    for (const v of p.voices || []) out.voices.add(typeof v === 'string' ? v : v.id || v.name);
  };
  if (Array.isArray(catalog)) catalog.forEach((p) => visit(p));
  else if (catalog && typeof catalog === 'object') {
    if (Array.isArray(catalog.data)) catalog.data.forEach((p) => visit(p));
    for (const kind of ['llm', 'stt', 'tts']) {
      const v = catalog[kind];
      if (Array.isArray(v)) v.forEach((p) => visit(p, kind));
    }
  }
  return out;
}

function datalist(id, values) {
  return h('datalist', { id }, [...values].filter(Boolean).map((v) => h('option', { value: v })));
}

function num(v) {
  return v === '' || v === undefined || v === null ? undefined : Number(v);
}

export async function edit(main, params) {
  const isNew = !params.id;
  let agent = null;
  if (!isNew) {
    try {
      agent = await api.get(`/agents/${params.id}`);
    } catch (err) {
      main.append(pageHeader('Agent'), err.status === 404 ? emptyState('This agent does not exist.') : loadError(err));
      return;
    }
  }
  const a = agent || {
    name: '', description: '', system_prompt: '', welcome_message: '',
    llm: {}, stt: {}, tts: {}, tools: [...TOOLS], interruption: { enabled: true, min_words: 2 },
    max_call_seconds: 600, silence_timeout_seconds: 30, recording: false,
  };
  const readOnly = Boolean(a.is_builtin);

  let catalog = { llm: new Set(), stt: new Set(), tts: new Set(), models: new Set(), voices: new Set() };
  let providersInfo = null;
  if (has('/agents/providers')) {
    try {
      providersInfo = await api.get('/agents/providers');
      catalog = catalogNames(providersInfo);
    } catch {
      // Free text inputs still work without the catalog.
    }
  }
  const ids = { llm: nextId('dl-llm'), stt: nextId('dl-stt'), tts: nextId('dl-tts'), models: nextId('dl-m'), voices: nextId('dl-v') };

  const toolBoxes = TOOLS.map((t) => field({ label: t, name: `tool_${t}`, type: 'checkbox', value: (a.tools || []).includes(t) }));
  const form = h('form', { class: 'form agent-form', 'aria-label': isNew ? 'New agent' : `Agent ${a.name}` },
    formError(),
    readOnly ? h('p', { class: 'notice' }, 'Built-in agents are shared and read-only. Create your own agent to customise one.') : null,
    h('fieldset', null, h('legend', null, 'About'),
      field({ label: 'Name', name: 'name', value: a.name, required: true, maxlength: 100 }),
      field({ label: 'Description', name: 'description', value: a.description || '' }),
      field({ label: 'System prompt', name: 'system_prompt', type: 'textarea', rows: 6, value: a.system_prompt || '', hint: 'How the agent should behave.' }),
      field({ label: 'Welcome message', name: 'welcome_message', value: a.welcome_message || '', hint: 'Spoken first when a call starts.' })),
    h('fieldset', null, h('legend', null, 'Language model'),
      h('div', { class: 'row wrap' },
        field({ label: 'Provider', name: 'llm_provider', value: a.llm?.provider || '', list: ids.llm }),
        field({ label: 'Model', name: 'llm_model', value: a.llm?.model || '', list: ids.models }),
        field({ label: 'Temperature', name: 'llm_temperature', type: 'number', step: '0.1', min: 0, max: 2, value: a.llm?.temperature ?? '' }),
        field({ label: 'Max tokens', name: 'llm_max_tokens', type: 'number', min: 1, value: a.llm?.max_tokens ?? '' }))),
    h('fieldset', null, h('legend', null, 'Speech to text'),
      h('div', { class: 'row wrap' },
        field({ label: 'Provider', name: 'stt_provider', value: a.stt?.provider || '', list: ids.stt }),
        field({ label: 'Model', name: 'stt_model', value: a.stt?.model || '', list: ids.models }),
        field({ label: 'Language', name: 'stt_language', value: a.stt?.language || '' }),
        field({ label: 'Endpointing (ms)', name: 'stt_endpointing_ms', type: 'number', min: 0, value: a.stt?.endpointing_ms ?? '' }))),
    h('fieldset', null, h('legend', null, 'Text to speech'),
      h('div', { class: 'row wrap' },
        field({ label: 'Provider', name: 'tts_provider', value: a.tts?.provider || '', list: ids.tts }),
        field({ label: 'Voice', name: 'tts_voice', value: a.tts?.voice || '', list: ids.voices }),
        field({ label: 'Model', name: 'tts_model', value: a.tts?.model || '', list: ids.models }),
        field({ label: 'Speed', name: 'tts_speed', type: 'number', step: '0.1', min: 0.25, max: 4, value: a.tts?.speed ?? '' }))),
    h('fieldset', null, h('legend', null, 'Tools the agent may use'), h('div', { class: 'row wrap' }, toolBoxes)),
    h('fieldset', null, h('legend', null, 'Calls'),
      h('div', { class: 'row wrap' },
        field({ label: 'Let the caller interrupt', name: 'int_enabled', type: 'checkbox', value: a.interruption?.enabled ?? true }),
        field({ label: 'Words to interrupt', name: 'int_min_words', type: 'number', min: 1, value: a.interruption?.min_words ?? 2 }),
        field({ label: 'Max call length (s)', name: 'max_call_seconds', type: 'number', min: 10, value: a.max_call_seconds ?? '' }),
        field({ label: 'Silence timeout (s)', name: 'silence_timeout_seconds', type: 'number', min: 1, value: a.silence_timeout_seconds ?? '' }),
        field({ label: 'Record calls', name: 'recording', type: 'checkbox', value: a.recording }))),
    datalist(ids.llm, catalog.llm), datalist(ids.stt, catalog.stt), datalist(ids.tts, catalog.tts),
    datalist(ids.models, catalog.models), datalist(ids.voices, catalog.voices),
    h('div', { class: 'row' },
      readOnly ? null : h('button', { type: 'submit', class: 'primary' }, isNew ? 'Create agent' : 'Save agent'),
      h('a', { class: 'button secondary', href: '#/agents' }, 'Back to agents'),
      has('/voice/sessions') && !isNew ? h('a', { class: 'button secondary', href: `#/talk?agent=${a.id}` }, 'Talk') : null,
      h('span', { class: 'spacer' }),
      !readOnly && !isNew ? h('button', { type: 'button', class: 'danger', onclick: remove }, 'Delete agent') : null));
  if (readOnly) form.querySelectorAll('input, textarea, select').forEach((el) => { el.disabled = true; });

  onSubmit(form, async (v) => {
    const section = (obj) => Object.fromEntries(Object.entries(obj).filter(([, x]) => x !== undefined && x !== ''));
    const body = {
      name: v.name.trim(),
      description: v.description.trim() || null,
      system_prompt: v.system_prompt,
      welcome_message: v.welcome_message.trim() || null,
      llm: section({ provider: v.llm_provider.trim(), model: v.llm_model.trim(), temperature: num(v.llm_temperature), max_tokens: num(v.llm_max_tokens) }),
      stt: section({ provider: v.stt_provider.trim(), model: v.stt_model.trim(), language: v.stt_language.trim(), endpointing_ms: num(v.stt_endpointing_ms) }),
      tts: section({ provider: v.tts_provider.trim(), voice: v.tts_voice.trim(), model: v.tts_model.trim(), speed: num(v.tts_speed) }),
      tools: TOOLS.filter((t) => v[`tool_${t}`]),
      interruption: { enabled: v.int_enabled, min_words: num(v.int_min_words) ?? 2 },
      max_call_seconds: num(v.max_call_seconds),
      silence_timeout_seconds: num(v.silence_timeout_seconds),
      recording: v.recording,
    };
    for (const k of ['llm', 'stt', 'tts']) if (!Object.keys(body[k]).length) delete body[k];
    for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
    if (isNew) {
      for (const k of ['description', 'welcome_message']) if (body[k] === null) delete body[k];
      const created = await api.post('/agents', body);
      toast('Agent created.');
      location.hash = `#/agents/${created.id}`;
    } else {
      agent = await api.patch(`/agents/${a.id}`, body);
      toast('Agent saved.');
    }
  });

  async function remove() {
    if (!confirmAction(`Delete the agent “${a.name}”?`)) return;
    try {
      await api.del(`/agents/${a.id}`);
      toast('Agent deleted.');
      location.hash = '#/agents';
    } catch (err) {
      toast(err.detail || 'Could not delete the agent.', 'error');
    }
  }

  main.append(pageHeader(isNew ? 'New agent' : a.name,
    a.is_builtin ? badge('built-in', 'info') : null), form);
  if (providersInfo) main.append(providersPanel(providersInfo));
}

function providersPanel(info) {
  const rows = Array.isArray(info) ? info : info.data || ['llm', 'stt', 'tts'].flatMap((k) => (info[k] || []).map((p) => ({ kind: k, ...p })));
  if (!rows.length) return h('div');
  return h('details', { class: 'panel' },
    h('summary', null, 'Available providers'),
    h('ul', { class: 'plain-list' }, rows.map((p) => h('li', null,
      h('strong', null, p.name), ' ', badge(String(p.kind || p.type || '').toUpperCase() || 'provider', 'info'), ' ',
      p.configured === false ? badge('not configured') : badge(p.local ? 'local' : 'ready', 'ok'),
      p.models?.length ? h('span', { class: 'muted' }, ` models: ${p.models.map((m) => (typeof m === 'string' ? m : m.id || m.name)).join(', ')}`) : null))));
}
