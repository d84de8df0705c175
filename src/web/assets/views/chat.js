// Chat: conversations, messages, and replies streamed over SSE with visible tool calls.

import { api, has, stream, listAll } from '../api.js';
import { subscribe } from '../events.js';
import {
  h, replace, field, formError, onSubmit, pageHeader, toast, fmtDateTime, loadError, debounce,
  emptyState, confirmAction, nextId,
} from '../ui.js';

function pretty(v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') {
    try {
      return JSON.stringify(JSON.parse(v), null, 2);
    } catch {
      return v;
    }
  }
  return JSON.stringify(v, null, 2);
}

/** A tool call as a disclosure: name visible, arguments and result on demand. */
export function toolCallView(tc) {
  const name = tc.name || tc.function?.name || 'tool';
  const args = tc.arguments ?? tc.function?.arguments ?? tc.input;
  const result = tc.result ?? tc.output;
  return h('details', { class: 'tool-call' },
    h('summary', null, h('span', { class: 'tool-icon', 'aria-hidden': 'true' }, '⚙'), ' Used tool ', h('code', null, name)),
    h('div', { class: 'tool-body' },
      h('p', { class: 'tool-label' }, 'Arguments'), h('pre', null, pretty(args) || '{}'),
      result !== undefined ? [h('p', { class: 'tool-label' }, 'Result'), h('pre', null, pretty(result))] : null));
}

function messageView(m) {
  const role = m.role || 'assistant';
  const calls = Array.isArray(m.tool_calls) ? m.tool_calls : [];
  const el = h('li', { class: `msg msg-${role}`, dataset: { id: m.id || '' } },
    h('div', { class: 'msg-role' }, role === 'user' ? 'You' : role === 'assistant' ? 'Assistant' : role),
    h('div', { class: 'msg-tools' }, calls.map(toolCallView)),
    h('div', { class: 'msg-text' }, m.content || ''),
    m.created_at ? h('div', { class: 'msg-time' }, fmtDateTime(m.created_at)) : null);
  return el;
}

export async function chat(main, params) {
  const convId = params.id || null;
  let agents = [];
  if (has('/agents')) {
    try {
      agents = await listAll('/agents', {}, 2);
    } catch {
      agents = [];
    }
  }
  const agentName = new Map(agents.map((a) => [a.id, a.name]));

  const convList = h('ul', { class: 'conv-list', 'aria-label': 'Conversations' });
  const newForm = h('form', { class: 'form new-conv', 'aria-labelledby': 'new-conv-h' },
    h('h2', { id: 'new-conv-h', class: 'visually-hidden' }, 'New conversation'),
    formError(),
    field({ label: 'Title', name: 'title', placeholder: 'Optional' }),
    agents.length ? field({ label: 'Agent', name: 'agent_id', type: 'select', options: agents.map((a) => [a.id, a.name]) }) : null,
    h('button', { type: 'submit', class: 'primary' }, 'New conversation'));
  onSubmit(newForm, async (v) => {
    const body = {};
    if (v.title && v.title.trim()) body.title = v.title.trim();
    if (v.agent_id) body.agent_id = v.agent_id;
    const conv = await api.post('/conversations', body);
    location.hash = `#/chat/${conv.id}`;
  });

  const side = h('aside', { class: 'chat-side', 'aria-label': 'Conversations' }, newForm, convList);
  const pane = h('section', { class: 'chat-pane', 'aria-label': 'Messages' });
  main.append(pageHeader('Chat'), h('div', { class: `chat-layout${convId ? ' has-conv' : ''}` }, side, pane));

  async function loadConversations() {
    try {
      const page = await api.get('/conversations', { limit: 50 });
      const rows = page.data || [];
      replace(convList, rows.length ? rows.map((c) => h('li', null,
        h('a', { href: `#/chat/${c.id}`, 'aria-current': c.id === convId ? 'page' : undefined },
          h('span', { class: 'conv-title' }, c.title || 'Untitled conversation'),
          h('span', { class: 'meta' }, [agentName.get(c.agent_id), fmtDateTime(c.last_message_at || c.updated_at)].filter(Boolean).join(' · ')))))
        : h('li', null, emptyState('No conversations yet.')));
    } catch (err) {
      replace(convList, h('li', null, loadError(err, 'Conversations are')));
    }
  }
  loadConversations();

  const unsubs = [subscribe(['conversation.', 'events.resync'], debounce(loadConversations, 250))];

  if (!convId) {
    replace(pane, emptyState('Pick a conversation or start a new one.'));
    return () => unsubs.forEach((u) => u());
  }

  let conv;
  try {
    conv = await api.get(`/conversations/${convId}`);
  } catch (err) {
    replace(pane, err.status === 404 ? emptyState('This conversation does not exist (or was deleted).') : loadError(err));
    return () => unsubs.forEach((u) => u());
  }

  const log = h('ol', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' });
  const seen = new Set();
  const composerId = nextId('composer');
  const input = h('textarea', { id: composerId, name: 'content', rows: 2, required: true, placeholder: 'Message your assistant…' });
  const sendBtn = h('button', { type: 'submit', class: 'primary' }, 'Send');
  const stopBtn = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Stop');
  const composer = h('form', { class: 'composer', 'aria-label': 'Send a message' },
    h('label', { for: composerId, class: 'visually-hidden' }, 'Message'),
    input,
    h('div', { class: 'composer-actions' }, stopBtn, sendBtn),
    formError());
  const titleEl = h('h2', { class: 'conv-heading' }, conv.title || 'Untitled conversation');
  const tools = h('div', { class: 'row' },
    h('button', {
      type: 'button', class: 'link-button',
      onclick: async () => {
        const title = window.prompt('Rename conversation', conv.title || '');
        if (title === null) return;
        try {
          conv = await api.patch(`/conversations/${conv.id}`, { title: title.trim() || null });
          replace(titleEl, conv.title || 'Untitled conversation');
          loadConversations();
        } catch (err) {
          toast(err.detail || 'Could not rename.', 'error');
        }
      },
    }, 'Rename'),
    h('button', {
      type: 'button', class: 'link-button danger-text',
      onclick: async () => {
        if (!confirmAction('Delete this conversation and its messages?')) return;
        try {
          await api.del(`/conversations/${conv.id}`);
          location.hash = '#/chat';
        } catch (err) {
          toast(err.detail || 'Could not delete.', 'error');
        }
      },
    }, 'Delete'));
  replace(pane, h('div', { class: 'conv-header' }, titleEl,
    conv.agent_id && agentName.get(conv.agent_id) ? h('span', { class: 'meta' }, `with ${agentName.get(conv.agent_id)}`) : null,
    tools), log, composer);

  function add(m) {
    if (m.id && seen.has(m.id)) return null;
    if (m.id) seen.add(m.id);
    const el = messageView(m);
    log.appendChild(el);
    el.scrollIntoView({ block: 'end' });
    return el;
  }

  try {
    const msgs = await listAll(`/conversations/${conv.id}/messages`, {}, 10);
    msgs.filter((m) => m.role !== 'tool' && m.role !== 'system').forEach(add);
    if (!msgs.length) log.appendChild(h('li', { class: 'msg-empty' }, emptyState('Say hello to start.')));
  } catch (err) {
    log.appendChild(h('li', null, loadError(err)));
  }

  let controller = null;
  stopBtn.addEventListener('click', () => controller?.abort());

  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      composer.requestSubmit();
    }
  });

  onSubmit(composer, async (v) => {
    const content = v.content.trim();
    if (!content) return;
    log.querySelector('.msg-empty')?.remove();
    input.value = '';
    const pendingUser = add({ role: 'user', content });
    const reply = h('li', { class: 'msg msg-assistant streaming', 'aria-busy': 'true' },
      h('div', { class: 'msg-role' }, 'Assistant'),
      h('div', { class: 'msg-tools' }),
      h('div', { class: 'msg-text' }));
    log.appendChild(reply);
    const text = reply.querySelector('.msg-text');
    const toolsEl = reply.querySelector('.msg-tools');
    controller = new AbortController();
    stopBtn.hidden = false;
    try {
      await stream(`/conversations/${conv.id}/messages`, { content }, (event, data) => {
        switch (event) {
          case 'user_message':
            if (data?.id) {
              seen.add(data.id);
              pendingUser.dataset.id = data.id;
            }
            break;
          case 'delta':
            text.textContent += data?.text ?? (typeof data === 'string' ? data : '');
            reply.scrollIntoView({ block: 'end' });
            break;
          case 'tool_call':
            toolsEl.appendChild(toolCallView(data || {}));
            break;
          case 'assistant_message':
            if (data?.id) {
              seen.add(data.id);
              reply.dataset.id = data.id;
            }
            if (data?.content && data.content !== text.textContent) text.textContent = data.content;
            break;
          case 'error':
            reply.appendChild(h('p', { class: 'msg-error', role: 'alert' }, data?.message || data?.detail || 'The assistant ran into an error.'));
            break;
          case 'json': // server answered without streaming
            if (data?.user_message?.id) seen.add(data.user_message.id);
            if (data?.assistant_message) {
              const m = data.assistant_message;
              if (m.id) { seen.add(m.id); reply.dataset.id = m.id; }
              text.textContent = m.content || '';
              (m.tool_calls || []).forEach((tc) => toolsEl.appendChild(toolCallView(tc)));
            }
            break;
          default:
            break;
        }
      }, { signal: controller.signal });
    } catch (err) {
      if (err.name === 'AbortError') {
        reply.appendChild(h('p', { class: 'meta' }, 'Stopped.'));
      } else {
        if (!text.textContent) reply.remove();
        if (err.status === 402) err.detail = `${err.detail} Add credits in the wallet to keep chatting.`;
        if (!pendingUser.dataset.id) input.value = content;
        throw err;
      }
    } finally {
      reply.classList.remove('streaming');
      reply.removeAttribute('aria-busy');
      stopBtn.hidden = true;
      controller = null;
      input.focus();
    }
  });

  unsubs.push(subscribe('message.created', (ev) => {
    const m = ev.data || {};
    if (m.conversation_id !== conv.id || m.role === 'tool' || m.role === 'system') return;
    if (controller) return; // our own reply is streaming in; its events carry the ids
    add(m);
  }));
  input.focus();
  return () => {
    controller?.abort();
    unsubs.forEach((u) => u());
  };
}
