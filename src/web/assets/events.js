// Live updates: one WebSocket to /api/v1/events per tab. Views subscribe to event types
// ("task.created"), prefixes ("task.") or everything ("*"). After a dropped connection the
// client reconnects with exponential backoff and `?since=<last event id>` so the server can
// replay what was missed; views also get a synthetic "events.resync" to reload their data.

import { has, wsTicket, wsUrl, isSignedIn } from './api.js';

const subscribers = new Set();
let socket = null;
let lastId = null;
let attempts = 0;
let retryTimer = null;
let running = false;
let everConnected = false;
let status = 'off';
let connecting = false;
const statusListeners = new Set();

function setStatus(s) {
  status = s;
  for (const fn of statusListeners) fn(s);
}

export function liveStatus() {
  return status;
}

export function onStatus(fn) {
  statusListeners.add(fn);
  fn(status);
  return () => statusListeners.delete(fn);
}

/** subscribe('task.', fn) → unsubscribe function. */
export function subscribe(pattern, fn) {
  const sub = { pattern, fn };
  subscribers.add(sub);
  return () => subscribers.delete(sub);
}

function matches(pattern, type) {
  if (pattern === '*') return true;
  if (Array.isArray(pattern)) return pattern.some((p) => matches(p, type));
  if (pattern.endsWith('.')) return type.startsWith(pattern);
  return pattern === type;
}

function dispatch(ev) {
  for (const sub of [...subscribers]) {
    if (!matches(sub.pattern, ev.type)) continue;
    try {
      sub.fn(ev);
    } catch (e) {
      console.error('event handler failed', e);
    }
  }
}

export function start() {
  if (running) return;
  running = true;
  attempts = 0;
  if (!has('/api/v1/events')) {
    setStatus('unavailable');
    return;
  }
  connect();
}

export function stop() {
  running = false;
  clearTimeout(retryTimer);
  everConnected = false;
  lastId = null;
  if (socket) {
    const s = socket;
    socket = null;
    s.close(1000, 'signed out');
  }
  setStatus('off');
}

async function connect() {
  if (!running || !isSignedIn() || connecting || socket) return;
  connecting = true;
  setStatus(everConnected ? 'reconnecting' : 'connecting');
  let ticket;
  try {
    ticket = await wsTicket();
  } catch (err) {
    connecting = false;
    if (err && err.status === 404) {
      setStatus('unavailable');
      return;
    }
    scheduleRetry();
    return;
  }
  connecting = false;
  if (!running) return;
  const ws = new WebSocket(wsUrl('/events', { ticket, since: lastId }));
  socket = ws;
  ws.addEventListener('open', () => {
    if (socket !== ws) return;
    attempts = 0;
    setStatus('live');
    if (everConnected) dispatch({ type: 'events.resync', data: null });
    everConnected = true;
  });
  ws.addEventListener('message', (msg) => {
    if (socket !== ws || typeof msg.data !== 'string') return;
    let ev;
    try {
      ev = JSON.parse(msg.data);
    } catch {
      return;
    }
    if (!ev || typeof ev.type !== 'string') return;
    if (ev.id !== undefined && ev.id !== null) lastId = ev.id;
    dispatch(ev);
  });
  ws.addEventListener('close', () => {
    if (socket !== ws) return;
    socket = null;
    if (running) scheduleRetry();
  });
}

function scheduleRetry() {
  if (!running) return;
  setStatus('reconnecting');
  clearTimeout(retryTimer);
  const base = Math.min(30000, 1000 * 2 ** Math.min(attempts, 5));
  attempts += 1;
  const delay = base / 2 + Math.random() * (base / 2);
  retryTimer = setTimeout(connect, delay);
}

function reconnectSoon() {
  if (running && !socket && !connecting && status !== 'unavailable') {
    clearTimeout(retryTimer);
    attempts = 0;
    connect();
  }
}

addEventListener('online', reconnectSoon);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') reconnectSoon();
});
