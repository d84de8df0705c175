// An in-memory stand-in for the API parts this server does not have yet, installed into a
// browser page with Playwright's request and WebSocket routing. Auth and users stay real
// (the page signs in against the real server); tasks, notes, goals, reflections, memories,
// agents, chat (SSE), calls, wallet, voice (a scripted WebSocket peer) and the events stream
// are answered here. It lets the UI tests exercise every view's logic and take screenshots
// of them today; the real-backend tests in the other files take over as routes land.

import { randomUUID } from 'node:crypto';

const now = () => new Date().toISOString();

export const FAKE_PATHS = [
  '/api/v1/tasks', '/api/v1/tasks/{id}', '/api/v1/tasks/{id}/status',
  '/api/v1/notes', '/api/v1/notes/{id}', '/api/v1/notes/{id}/tasks',
  '/api/v1/goals', '/api/v1/goals/{id}', '/api/v1/goals/{id}/tasks', '/api/v1/goals/{id}/plan',
  '/api/v1/reflections', '/api/v1/reflections/{id}',
  '/api/v1/memories', '/api/v1/memories/{id}',
  '/api/v1/agents', '/api/v1/agents/{id}', '/api/v1/agents/providers',
  '/api/v1/conversations', '/api/v1/conversations/{id}', '/api/v1/conversations/{id}/messages',
  '/api/v1/voice/sessions', '/api/v1/voice/sessions/{id}',
  '/api/v1/calls', '/api/v1/calls/{id}', '/api/v1/calls/{id}/transcript',
  '/api/v1/wallet', '/api/v1/wallet/transactions', '/api/v1/wallet/add-credits', '/api/v1/pricing',
  '/api/v1/events',
];

/** PCM16 little-endian sine frames (20 ms each) at `rate`. */
export function sineFrames(seconds, rate = 16000, freq = 440) {
  const per = rate / 50;
  const frames = [];
  const total = Math.round(seconds * 50);
  for (let f = 0; f < total; f++) {
    const buf = Buffer.alloc(per * 2);
    for (let i = 0; i < per; i++) {
      const t = (f * per + i) / rate;
      buf.writeInt16LE(Math.round(Math.sin(2 * Math.PI * freq * t) * 8000), i * 2);
    }
    frames.push(buf);
  }
  return frames;
}

/** One shared store (two pages of the same person see the same data and events). */
export function createStore() {
  const agentId = randomUUID();
  const store = {
    tasks: [], notes: [], goals: [], reflections: [], memories: [], conversations: [], messages: [],
    agents: [{
      id: agentId, name: 'Cadence Assistant', description: 'General personal assistant', is_builtin: true,
      system_prompt: 'You are a helpful assistant.', welcome_message: 'Hi! How can I help?',
      llm: { provider: 'echo', model: 'echo', temperature: 0.7, max_tokens: 512 },
      stt: { provider: 'pocketsphinx', model: 'en-us', language: 'en', endpointing_ms: 300 },
      tts: { provider: 'espeak', voice: 'en-us', model: 'espeak-ng', speed: 1 },
      tools: ['tasks', 'notes', 'goals', 'memories', 'reflections'], interruption: { enabled: true, min_words: 2 },
      max_call_seconds: 600, silence_timeout_seconds: 30, recording: false, created_at: now(), updated_at: now(),
    }],
    calls: [],
    wallet: { balance: 1000, reserved: 0, available: 1000, updated_at: now() },
    transactions: [{ id: randomUUID(), kind: 'signup_bonus', amount: 1000, balance_after: 1000, reference_type: null, reference_id: null, description: 'Welcome credits', created_at: now() }],
    events: [],
    eventUrls: [],
    sockets: new Set(),
    voice: { marksEchoed: [], framesReceived: 0, textsReceived: [], ended: false },
    idempotency: new Map(),
    eventId: 0,
  };
  store.emit = (type, data) => {
    store.eventId += 1;
    const ev = { id: String(store.eventId), type, data };
    store.events.push(ev);
    for (const ws of store.sockets) {
      try { ws.send(JSON.stringify(ev)); } catch { /* closed */ }
    }
  };
  return store;
}

function problem(status, detail, errors) {
  const code = { 400: 'bad_request', 402: 'insufficient_credits', 403: 'forbidden', 404: 'not_found', 412: 'precondition_failed', 422: 'validation_failed' }[status] || 'error';
  return { status, json: { type: `urn:cadence:problem:${code}`, title: code, status, code, detail, errors: errors || [] }, problem: true };
}

function page(rows) {
  return { json: { data: rows, next_cursor: null } };
}

function versioned(collection, store, kind, body) {
  const row = { id: randomUUID(), version: 1, created_at: now(), updated_at: now(), metadata: {}, ...body };
  collection.unshift(row);
  store.emit(`${kind}.created`, row);
  return { status: 201, json: row, headers: { Location: `/api/v1/${kind}s/${row.id}` } };
}

function update(collection, store, kind, id, body, ifMatch) {
  const row = collection.find((r) => r.id === id);
  if (!row) return problem(404, 'resource not found');
  if (ifMatch && row.version !== undefined && ifMatch !== `"${row.version}"`) return problem(412, 'version does not match');
  Object.assign(row, body, { updated_at: now() });
  if (row.version !== undefined) row.version += 1;
  store.emit(`${kind}.updated`, row);
  return { json: row, headers: row.version !== undefined ? { ETag: `"${row.version}"` } : {} };
}

function remove(collection, store, kind, id) {
  const i = collection.findIndex((r) => r.id === id);
  if (i < 0) return problem(404, 'resource not found');
  collection.splice(i, 1);
  store.emit(`${kind}.deleted`, { id });
  return { status: 204 };
}

function plainText(blocks) {
  const out = [];
  const walk = (bs) => (bs || []).forEach((b) => {
    if (Array.isArray(b.content)) out.push(b.content.map((t) => t.text || '').join(''));
    walk(b.children);
  });
  if (Array.isArray(blocks)) walk(blocks);
  return out.join('\n');
}

function goalProgress(store, goal) {
  const linked = store.tasks.filter((t) => t.goal_id === goal.id);
  if (linked.length) goal.progress = Math.round((100 * linked.filter((t) => t.status === 'done').length) / linked.length);
  return goal;
}

function handlers(store) {
  const H = [];
  const on = (method, pattern, fn) => {
    const names = [];
    const re = new RegExp(`^/api/v1${pattern.replace(/\{(\w+)\}/g, (_, n) => { names.push(n); return '([^/]+)'; })}$`);
    H.push({ method, re, names, fn });
  };

  // tasks
  on('GET', '/tasks', ({ query }) => {
    const statuses = query.getAll('status');
    const q = (query.get('q') || '').toLowerCase();
    let rows = store.tasks.filter((t) => (!statuses.length || statuses.includes(t.status))
      && (!query.get('priority') || t.priority === query.get('priority'))
      && (!q || t.title.toLowerCase().includes(q)));
    if (query.get('sort') === 'due_date') rows = [...rows].sort((a, b) => String(a.due_date || '9999').localeCompare(String(b.due_date || '9999')));
    return page(rows);
  });
  on('POST', '/tasks', ({ body }) => {
    if (!body.title || !body.title.trim()) return problem(422, 'title must not be empty', [{ field: 'title', message: 'must not be empty' }]);
    return versioned(store.tasks, store, 'task', {
      description: null, status: 'todo', priority: 'medium', due_date: null, due_time: null, parent_id: null, goal_id: null,
      note_id: null, source: 'manual', source_reference: null, completed_at: null, ...body,
    });
  });
  on('PATCH', '/tasks/{id}', ({ params, body, headers }) => update(store.tasks, store, 'task', params.id, body, headers['if-match']));
  on('DELETE', '/tasks/{id}', ({ params }) => remove(store.tasks, store, 'task', params.id));
  on('PUT', '/tasks/{id}/status', ({ params, body }) => {
    const r = update(store.tasks, store, 'task', params.id, { status: body.status, completed_at: body.status === 'done' ? now() : null });
    store.goals.forEach((g) => goalProgress(store, g));
    return r;
  });

  // notes
  on('GET', '/notes', ({ query }) => {
    const q = (query.get('q') || '').toLowerCase();
    const archived = query.get('is_archived') === 'true';
    return page(store.notes.filter((n) => n.is_archived === archived && (!q || `${n.title} ${n.plain_text}`.toLowerCase().includes(q))
      && (query.get('is_pinned') !== 'true' || n.is_pinned)));
  });
  on('POST', '/notes', ({ body }) => versioned(store.notes, store, 'note', {
    content: [], parent_id: null, is_pinned: false, is_archived: false, ...body, plain_text: plainText(body.content),
  }));
  on('GET', '/notes/{id}', ({ params }) => {
    const n = store.notes.find((x) => x.id === params.id);
    return n ? { json: n, headers: { ETag: `"${n.version}"` } } : problem(404, 'resource not found');
  });
  on('PATCH', '/notes/{id}', ({ params, body, headers }) => update(store.notes, store, 'note', params.id,
    body.content !== undefined ? { ...body, plain_text: plainText(body.content) } : body, headers['if-match']));
  on('DELETE', '/notes/{id}', ({ params }) => remove(store.notes, store, 'note', params.id));
  on('GET', '/notes/{id}/tasks', ({ params }) => page(store.tasks.filter((t) => t.note_id === params.id)));

  // goals
  on('GET', '/goals', ({ query }) => page(store.goals.map((g) => goalProgress(store, g))
    .filter((g) => (!query.get('status') || g.status === query.get('status')) && (!query.get('timeframe') || g.timeframe === query.get('timeframe')))));
  on('POST', '/goals', ({ body }) => versioned(store.goals, store, 'goal', {
    description: null, parent_goal_id: null, status: 'active', progress: 0, priority: 'medium', due_date: null, ...body,
  }));
  on('GET', '/goals/{id}', ({ params }) => {
    const g = store.goals.find((x) => x.id === params.id);
    return g ? { json: goalProgress(store, g), headers: { ETag: `"${g.version}"` } } : problem(404, 'resource not found');
  });
  on('PATCH', '/goals/{id}', ({ params, body, headers }) => update(store.goals, store, 'goal', params.id, body, headers['if-match']));
  on('DELETE', '/goals/{id}', ({ params }) => remove(store.goals, store, 'goal', params.id));
  on('GET', '/goals/{id}/tasks', ({ params }) => page(store.tasks.filter((t) => t.goal_id === params.id)));
  on('POST', '/goals/{id}/plan', ({ params }) => {
    const g = store.goals.find((x) => x.id === params.id);
    if (!g) return problem(404, 'resource not found');
    const made = ['Outline the first step', 'Schedule time for it'].map((title) => versioned(store.tasks, store, 'task', {
      title, description: null, status: 'todo', priority: 'medium', goal_id: g.id, source: 'goal_plan', due_date: null,
    }).json);
    return { status: 201, json: { tasks: made } };
  });

  // reflections and memories
  on('GET', '/reflections', () => page(store.reflections));
  on('POST', '/reflections', ({ body }) => {
    const r = { id: randomUUID(), goal_id: null, created_at: now(), ...body };
    store.reflections.unshift(r);
    store.emit('reflection.created', r);
    return { status: 201, json: r };
  });
  on('DELETE', '/reflections/{id}', ({ params }) => remove(store.reflections, store, 'reflection', params.id));
  on('GET', '/memories', ({ query }) => page(store.memories.filter((m) => (!query.get('memory_type') || m.memory_type === query.get('memory_type'))
    && (!query.get('tag') || (m.tags || []).includes(query.get('tag')))
    && (!query.get('q') || m.content.toLowerCase().includes(query.get('q').toLowerCase())))));
  on('POST', '/memories', ({ body }) => {
    const m = { id: randomUUID(), source: 'manual', created_at: now(), ...body };
    store.memories.unshift(m);
    store.emit('memory.created', m);
    return { status: 201, json: m };
  });
  on('PATCH', '/memories/{id}', ({ params, body }) => update(store.memories, store, 'memory', params.id, body));
  on('DELETE', '/memories/{id}', ({ params }) => remove(store.memories, store, 'memory', params.id));

  // agents
  on('GET', '/agents', () => page(store.agents));
  on('GET', '/agents/providers', () => ({
    json: {
      data: [
        { name: 'echo', kind: 'llm', configured: true, local: true, models: ['echo'], voices: [] },
        { name: 'pocketsphinx', kind: 'stt', configured: true, local: true, models: ['en-us'], voices: [] },
        { name: 'espeak', kind: 'tts', configured: true, local: true, models: ['espeak-ng'], voices: ['en-us', 'en-gb'] },
        { name: 'openai', kind: 'llm', configured: false, local: false, models: ['gpt-4o-mini'], voices: [] },
      ],
    },
  }));
  on('GET', '/agents/{id}', ({ params }) => {
    const a = store.agents.find((x) => x.id === params.id);
    return a ? { json: a } : problem(404, 'resource not found');
  });
  on('POST', '/agents', ({ body }) => {
    if (!body.name) return problem(422, 'name must not be empty', [{ field: 'name', message: 'must not be empty' }]);
    if (body.llm && body.llm.provider && !['echo', 'openai'].includes(body.llm.provider)) {
      return problem(422, 'unknown provider', [{ field: 'llm.provider', message: 'is not a known provider' }]);
    }
    const a = { ...store.agents[0], ...body, id: randomUUID(), is_builtin: false, created_at: now(), updated_at: now() };
    store.agents.push(a);
    return { status: 201, json: a };
  });
  on('PATCH', '/agents/{id}', ({ params, body }) => update(store.agents, store, 'agent', params.id, body));
  on('DELETE', '/agents/{id}', ({ params }) => remove(store.agents, store, 'agent', params.id));

  // chat
  on('GET', '/conversations', () => page(store.conversations));
  on('POST', '/conversations', ({ body }) => {
    const c = { id: randomUUID(), title: body.title || null, agent_id: body.agent_id || store.agents[0].id, created_at: now(), updated_at: now(), last_message_at: null };
    store.conversations.unshift(c);
    store.emit('conversation.created', c);
    return { status: 201, json: c };
  });
  on('GET', '/conversations/{id}', ({ params }) => {
    const c = store.conversations.find((x) => x.id === params.id);
    return c ? { json: c } : problem(404, 'resource not found');
  });
  on('PATCH', '/conversations/{id}', ({ params, body }) => update(store.conversations, store, 'conversation', params.id, body));
  on('DELETE', '/conversations/{id}', ({ params }) => remove(store.conversations, store, 'conversation', params.id));
  on('GET', '/conversations/{id}/messages', ({ params }) => page(store.messages.filter((m) => m.conversation_id === params.id)));
  on('POST', '/conversations/{id}/messages', ({ params, body, headers }) => {
    const c = store.conversations.find((x) => x.id === params.id);
    if (!c) return problem(404, 'resource not found');
    const user = { id: randomUUID(), conversation_id: c.id, role: 'user', content: body.content, agent_id: null, tool_calls: [], usage: null, created_at: now() };
    const wantsTask = /task called (.+)$/i.exec(body.content);
    const calls = [];
    if (wantsTask) {
      const task = versioned(store.tasks, store, 'task', { title: wantsTask[1].trim(), status: 'todo', priority: 'medium', source: 'chat', due_date: null }).json;
      calls.push({ name: 'create_task', arguments: { title: task.title }, result: { id: task.id, title: task.title, status: task.status } });
    }
    const reply = wantsTask ? `Done — I added “${wantsTask[1].trim()}” to your tasks.` : `You said: ${body.content}`;
    const assistant = { id: randomUUID(), conversation_id: c.id, role: 'assistant', content: reply, agent_id: c.agent_id, tool_calls: calls, usage: { input_tokens: 20, output_tokens: 12 }, created_at: now() };
    store.messages.push(user, assistant);
    c.last_message_at = now();
    if (!c.title) c.title = body.content.slice(0, 40);
    store.emit('message.created', user);
    store.emit('message.created', assistant);
    if (!(headers.accept || '').includes('text/event-stream')) return { status: 201, json: { user_message: user, assistant_message: assistant } };
    const words = reply.split(/(?<= )/);
    let sse = `event: user_message\ndata: ${JSON.stringify(user)}\n\n`;
    calls.forEach((tc) => { sse += `event: tool_call\ndata: ${JSON.stringify(tc)}\n\n`; });
    words.forEach((w) => { sse += `event: delta\ndata: ${JSON.stringify({ text: w })}\n\n`; });
    sse += `event: assistant_message\ndata: ${JSON.stringify(assistant)}\n\n`;
    return { status: 200, sse };
  });

  // calls
  on('GET', '/calls', ({ query }) => page(store.calls.filter((c) => !query.get('status') || c.status === query.get('status'))));
  on('GET', '/calls/{id}', ({ params }) => {
    const c = store.calls.find((x) => x.id === params.id);
    return c ? { json: c } : problem(404, 'resource not found');
  });
  on('GET', '/calls/{id}/transcript', ({ params }) => {
    const c = store.calls.find((x) => x.id === params.id);
    return c ? page(c.transcript || []) : problem(404, 'resource not found');
  });

  // wallet
  on('GET', '/wallet', () => ({ json: store.wallet }));
  on('GET', '/wallet/transactions', () => page(store.transactions));
  on('GET', '/pricing', () => ({ json: { data: [{ unit: 'stt_second', price: 1 }, { unit: 'tts_1k_chars', price: 30 }, { unit: 'platform_minute', price: 5 }] } }));
  on('POST', '/wallet/add-credits', ({ body, headers }) => {
    const key = headers['idempotency-key'];
    if (!key) return problem(422, 'Idempotency-Key header is required', [{ field: 'Idempotency-Key', message: 'is required' }]);
    if (store.idempotency.has(key)) return store.idempotency.get(key);
    if (!Number.isInteger(body.amount) || body.amount <= 0) return problem(422, 'amount must be positive', [{ field: 'amount', message: 'must be a positive integer' }]);
    store.wallet.balance += body.amount;
    store.wallet.available += body.amount;
    const tx = { id: randomUUID(), kind: 'top_up', amount: body.amount, balance_after: store.wallet.balance, reference_type: 'test_top_up', reference_id: null, description: 'Test-mode top-up', created_at: now() };
    store.transactions.unshift(tx);
    store.emit('wallet.updated', store.wallet);
    const res = { status: 201, json: tx };
    store.idempotency.set(key, res);
    return res;
  });

  // voice control plane
  on('POST', '/voice/sessions', ({ body, origin }) => {
    if (store.wallet.available < 10) return problem(402, 'not enough credits for a call');
    const sessionId = randomUUID();
    const callId = randomUUID();
    store.voice.session = { sessionId, callId, agentId: body.agent_id };
    return {
      status: 201,
      json: {
        session_id: sessionId, call_id: callId, ws_url: `${origin.replace(/^http/, 'ws')}/api/v1/voice/sessions/${sessionId}/ws`,
        ticket: 'fake-ticket', expires_at: now(), audio: { encoding: 'pcm_s16le', sample_rate: 16000, channels: 1 },
      },
    };
  });
  on('DELETE', '/voice/sessions/{id}', () => ({ status: 204 }));
  return H;
}

/** The scripted voice peer: answers speech and typed text, sends marks, honours end. */
function voicePeer(store, ws) {
  const v = store.voice;
  let replied = false;
  let turn = 0;
  const started = Date.now();
  const say = (text, seconds, markName) => {
    turn += 1;
    ws.send(JSON.stringify({ type: 'response', text: text.slice(0, 10), final: false }));
    ws.send(JSON.stringify({ type: 'response', text, final: true }));
    ws.send(JSON.stringify({ type: 'audio_start', response_id: `r${turn}` }));
    for (const f of sineFrames(seconds)) ws.send(f);
    ws.send(JSON.stringify({ type: 'mark', name: markName }));
    ws.send(JSON.stringify({ type: 'metrics', turn, stt_ms: 120, llm_first_token_ms: 240, tts_first_byte_ms: 90, response_latency_ms: 480 + turn }));
  };
  ws.onMessage((msg) => {
    if (typeof msg !== 'string') {
      v.framesReceived += 1;
      v.lastFrameBytes = msg.length;
      if (!replied && v.framesReceived >= 25) { // half a second of microphone audio heard
        replied = true;
        ws.send(JSON.stringify({ type: 'transcript', role: 'user', text: 'hello', final: false }));
        ws.send(JSON.stringify({ type: 'transcript', role: 'user', text: 'hello cadence', final: true }));
        ws.send(JSON.stringify({ type: 'tool_call', name: 'list_tasks', arguments: { status: 'todo' }, result: { tasks: [] } }));
        say('Hello! You have no open tasks.', 0.6, 'm1');
      }
      return;
    }
    const ev = JSON.parse(msg);
    if (ev.type === 'start') {
      v.startRate = ev.sample_rate;
      ws.send(JSON.stringify({ type: 'ready', session_id: v.session?.sessionId, call_id: v.session?.callId, sample_rate: 16000 }));
    } else if (ev.type === 'mark') {
      v.marksEchoed.push(ev.name);
    } else if (ev.type === 'text') {
      v.textsReceived.push(ev.text);
      ws.send(JSON.stringify({ type: 'transcript', role: 'user', text: ev.text, final: true }));
      if (/interrupt/i.test(ev.text)) {
        say('This is a long answer that you will cut short.', 3, 'm-cut');
        setTimeout(() => ws.send(JSON.stringify({ type: 'clear' })), 400);
      } else {
        say(`You typed: ${ev.text}`, 0.4, `m-text-${v.textsReceived.length}`);
      }
    } else if (ev.type === 'end') {
      v.ended = true;
      const call = {
        id: v.session?.callId || randomUUID(), agent_id: v.session?.agentId, conversation_id: null, channel: 'web', direction: 'inbound',
        status: 'completed', from_number: null, to_number: null, started_at: new Date(started).toISOString(), ended_at: now(),
        duration_ms: 12340, end_reason: 'user_ended', usage: { stt_seconds: 12, llm_input_tokens: 300, llm_output_tokens: 80, tts_characters: 120 },
        cost_credits: 7, cost_breakdown: { stt: 2, llm: 1, tts: 3, platform: 1 },
        metrics: { turns: turn, response_latency_ms_p50: 481, response_latency_ms_p95: 482, interruptions: v.marksEchoed.includes('m-cut') ? 0 : 1 },
        created_at: new Date(started).toISOString(),
        transcript: [
          { role: 'user', content: 'hello cadence', created_at: now() },
          { role: 'assistant', content: 'Hello! You have no open tasks.', created_at: now() },
        ],
      };
      store.calls.unshift(call);
      store.emit('call.ended', call);
      ws.send(JSON.stringify({ type: 'ended', reason: 'user_ended', call_id: call.id, duration_ms: call.duration_ms, cost_credits: call.cost_credits }));
      ws.close({ code: 1000, reason: 'call ended' });
    }
  });
}

/**
 * Route the page's API calls for missing features to the fake store. The real server's
 * openapi.json is extended with the fake paths so the console enables those views.
 */
export async function installFakeBackend(page, store) {
  const H = handlers(store);
  await page.route('**/api/v1/openapi.json', async (route) => {
    const res = await route.fetch();
    const doc = await res.json();
    for (const p of FAKE_PATHS) doc.paths[p] = doc.paths[p] || { get: {}, post: {}, patch: {}, put: {}, delete: {} };
    await route.fulfill({ response: res, json: doc });
  });
  await page.route(/\/api\/v1\/(?!auth\/|users\/|openapi\.json)/, async (route) => {
    const req = route.request();
    const url = new URL(req.url());
    const path = url.pathname.replace(/^\/api\/v1/, '');
    const h = H.find((x) => x.method === req.method() && x.re.test(`/api/v1${path}`));
    if (!h) return route.continue();
    const m = h.re.exec(`/api/v1${path}`);
    const params = Object.fromEntries(h.names.map((n, i) => [n, m[i + 1]]));
    let body = {};
    try { body = req.postData() ? JSON.parse(req.postData()) : {}; } catch { body = {}; }
    const out = h.fn({ params, query: url.searchParams, body, headers: req.headers(), origin: url.origin });
    if (out.sse !== undefined) {
      return route.fulfill({ status: out.status || 200, headers: { 'content-type': 'text/event-stream' }, body: out.sse });
    }
    if (out.status === 204) return route.fulfill({ status: 204, body: '' });
    return route.fulfill({
      status: out.status || 200,
      headers: { 'content-type': out.problem ? 'application/problem+json' : 'application/json', ...(out.headers || {}) },
      body: JSON.stringify(out.json),
    });
  });
  await page.routeWebSocket(/\/api\/v1\/events/, (ws) => {
    store.eventUrls.push(ws.url());
    store.sockets.add(ws);
    ws.onClose(() => store.sockets.delete(ws));
  });
  await page.routeWebSocket(/\/api\/v1\/voice\/sessions\/[^/]+\/ws/, (ws) => voicePeer(store, ws));
}
