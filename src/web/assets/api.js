// The one client for the Cadence API: every request of the console goes through here.
// It adds the bearer token, refreshes it before it expires and after a 401 (then retries the
// request once), and turns problem+json answers into ApiError with `detail` and field `errors`.
//
// Where the tokens live:
// - The access token (15 min) is kept in memory only, never in storage.
// - The refresh token is kept in sessionStorage. Trade-off: in memory only, a reload or a
//   new visit of the page would sign the person out every time; in sessionStorage it
//   survives reloads of this tab but not closing it, is never sent automatically (unlike a
//   cookie, so no CSRF), and is not shared with other tabs. The cost is that script running
//   in this origin could read it; the page's Content-Security-Policy allows no inline or
//   foreign scripts to make that hard, and the server revokes the whole session when a spent
//   refresh token is presented again, so a stolen-and-used token is detected at the next
//   refresh. (Duplicating a tab copies sessionStorage: both tabs then share one refresh
//   token, and whichever refreshes second is signed out — sign in again there.)

const API = '/api/v1';
const REFRESH_KEY = 'cadence.refresh_token';

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `Request failed (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem.code || null;
    this.title = problem.title || null;
    this.detail = problem.detail || problem.title || this.message;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.problem = problem;
  }
}

/** A route the server does not have (yet): its API answers 404 for the whole path. */
export class UnavailableError extends ApiError {
  constructor(path) {
    super(404, { code: 'not_found', detail: `${path} is not available on this server` });
    this.name = 'UnavailableError';
    this.unavailable = true;
  }
}

let accessToken = null;
let accessExpiresAt = 0;
let refreshToken = readStoredRefresh();
let currentUser = null;
let refreshTimer = null;
let refreshing = null;
const authListeners = new Set();

function readStoredRefresh() {
  try {
    return sessionStorage.getItem(REFRESH_KEY);
  } catch {
    return null;
  }
}

function storeRefresh(token) {
  try {
    if (token) sessionStorage.setItem(REFRESH_KEY, token);
    else sessionStorage.removeItem(REFRESH_KEY);
  } catch {
    // Storage disabled: the token stays in memory only.
  }
}

function emitAuth() {
  for (const fn of authListeners) {
    try {
      fn(currentUser);
    } catch (e) {
      console.error(e);
    }
  }
}

/** Called with the user (or null) whenever the person signs in or out. */
export function onAuthChange(fn) {
  authListeners.add(fn);
  return () => authListeners.delete(fn);
}

export function currentUserInfo() {
  return currentUser;
}

export function setCurrentUser(user) {
  currentUser = user;
  emitAuth();
}

/** The session id (`sid` claim) of the current access token, to mark "this device". */
export function currentSessionId() {
  if (!accessToken) return null;
  try {
    const payload = accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload)).sid || null;
  } catch {
    return null;
  }
}

export function isSignedIn() {
  return Boolean(accessToken || refreshToken);
}

function acceptTokens(pair) {
  accessToken = pair.access_token;
  const ttl = Math.max(10, Number(pair.expires_in) || 900);
  accessExpiresAt = Date.now() + ttl * 1000;
  refreshToken = pair.refresh_token;
  storeRefresh(refreshToken);
  if (pair.user) currentUser = pair.user;
  clearTimeout(refreshTimer);
  // Refresh a minute before expiry (or at 80% of a short lifetime).
  const lead = Math.min(60, ttl * 0.2);
  refreshTimer = setTimeout(() => {
    refreshTokens().catch(() => {});
  }, (ttl - lead) * 1000);
}

function forgetTokens() {
  const wasSignedIn = Boolean(accessToken || refreshToken || currentUser);
  accessToken = null;
  accessExpiresAt = 0;
  refreshToken = null;
  currentUser = null;
  storeRefresh(null);
  clearTimeout(refreshTimer);
  if (wasSignedIn) emitAuth();
}

/**
 * Exchange the refresh token for a new pair. Concurrent callers share one request (a
 * refresh token can be spent only once). Resolves true when signed in afterwards.
 */
export function refreshTokens() {
  if (!refreshToken) return Promise.resolve(false);
  if (refreshing) return refreshing;
  const token = refreshToken;
  refreshing = (async () => {
    try {
      const res = await fetch(`${API}/auth/refresh`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ refresh_token: token }),
      });
      if (res.ok) {
        acceptTokens(await res.json());
        return true;
      }
      if (res.status === 401 || res.status === 422) {
        forgetTokens();
        return false;
      }
      throw await toError(res);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function toError(res) {
  let problem = {};
  const type = res.headers.get('content-type') || '';
  try {
    if (type.includes('json')) problem = await res.json();
    else problem = { detail: (await res.text()).slice(0, 300) || res.statusText };
  } catch {
    problem = { detail: res.statusText };
  }
  return new ApiError(res.status, problem);
}

function buildUrl(path, query) {
  const base = path.startsWith('/api/') || path.startsWith('http') ? path : API + path;
  if (!query) return base;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => params.append(k, String(x)));
    else params.append(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${base}${base.includes('?') ? '&' : '?'}${qs}` : base;
}

/**
 * Make a request. Options: body (JSON), query, headers, auth (default true), raw (return the
 * Response once it is ok, for streams and blobs), signal.
 */
export async function request(method, path, opts = {}) {
  const { body, query, headers = {}, auth = true, raw = false, signal } = opts;
  const url = buildUrl(path, query);
  const send = async () => {
    const h = { Accept: 'application/json', ...headers };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (auth && accessToken) h.Authorization = `Bearer ${accessToken}`;
    return fetch(url, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  };
  if (auth && refreshToken && (!accessToken || Date.now() > accessExpiresAt - 5000)) {
    await refreshTokens();
  }
  let res = await send();
  if (res.status === 401 && auth) {
    if (await refreshTokens()) res = await send();
    if (res.status === 401) forgetTokens();
  }
  if (!res.ok) throw await toError(res);
  if (raw) return res;
  if (res.status === 204 || res.status === 205) return null;
  const type = res.headers.get('content-type') || '';
  if (type.includes('json')) {
    const data = await res.json();
    const etag = res.headers.get('etag');
    if (etag && data && typeof data === 'object' && !Array.isArray(data)) {
      Object.defineProperty(data, '_etag', { value: etag, enumerable: false });
    }
    return data;
  }
  return res.text();
}

export const api = {
  get: (path, query, opts) => request('GET', path, { ...opts, query }),
  post: (path, body, opts) => request('POST', path, { ...opts, body }),
  put: (path, body, opts) => request('PUT', path, { ...opts, body }),
  patch: (path, body, opts) => request('PATCH', path, { ...opts, body }),
  del: (path, opts) => request('DELETE', path, opts),
};

/** `If-Match` for a resource with an integer `version` (notes, tasks, goals). */
export function ifMatch(resource) {
  return resource && resource.version !== undefined ? { 'If-Match': `"${resource.version}"` } : {};
}

/** A fresh key for a money-moving POST. */
export function idempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/**
 * POST and read a Server-Sent Events reply; `onEvent(name, data)` is called per event.
 * A server that answers with JSON instead is handled too (`onEvent('json', body)`).
 */
export async function stream(path, body, onEvent, { signal } = {}) {
  const res = await request('POST', path, {
    body,
    raw: true,
    signal,
    headers: { Accept: 'text/event-stream' },
  });
  const type = res.headers.get('content-type') || '';
  if (!type.includes('text/event-stream')) {
    onEvent('json', type.includes('json') ? await res.json() : null);
    return;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let data = [];
  const dispatch = () => {
    if (data.length) {
      const text = data.join('\n');
      let parsed = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // plain text data
      }
      onEvent(event, parsed);
    }
    event = 'message';
    data = [];
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buffer.search(/\r\n|\r|\n/)) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') dispatch();
      else if (line.startsWith(':')) continue;
      else {
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let val = colon === -1 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'event') event = val;
        else if (field === 'data') data.push(val);
      }
    }
  }
  buffer += decoder.decode();
  if (buffer) buffer.split(/\r\n|\r|\n/).forEach((l) => l.startsWith('data:') && data.push(l.slice(5).trimStart()));
  dispatch();
}

// ---------- what this server has ----------

let routes = null; // Map path -> Set(method), from the server's OpenAPI document.

/** Load the route list once; without it every route is assumed present. */
export async function loadCapabilities() {
  try {
    const res = await fetch(`${API}/openapi.json`, { headers: { Accept: 'application/json' } });
    if (!res.ok) return;
    const doc = await res.json();
    routes = new Map();
    for (const [p, item] of Object.entries(doc.paths || {})) {
      routes.set(p, new Set(Object.keys(item).map((m) => m.toLowerCase())));
    }
  } catch {
    routes = null;
  }
}

/** Does the server have this route (a path as in API.md, e.g. "/api/v1/tasks")? */
export function has(path, method) {
  if (!routes) return true;
  const full = path.startsWith('/api/') ? path : API + path;
  const methods = routes.get(full) || routes.get(full.replace(/\/$/, '')) || routes.get(full + '/');
  if (!methods) return false;
  return method ? methods.has(method.toLowerCase()) : true;
}

/** Throw UnavailableError when the server lacks `path`. */
export function need(path, method) {
  if (!has(path, method)) throw new UnavailableError(path);
}

// ---------- session ----------

export async function register(email, password, fullName) {
  const body = { email, password };
  if (fullName) body.full_name = fullName;
  const pair = await request('POST', '/auth/register', { body, auth: false });
  acceptTokens(pair);
  emitAuth();
  return pair.user;
}

export async function login(email, password) {
  const pair = await request('POST', '/auth/login', { body: { email, password }, auth: false });
  acceptTokens(pair);
  emitAuth();
  return pair.user;
}

export async function logout(scope = 'local') {
  try {
    if (accessToken || refreshToken) await request('POST', '/auth/logout', { body: { scope } });
  } finally {
    forgetTokens();
  }
}

/** On page load: resume the session kept in this tab, if any. Resolves to the user or null. */
export async function resume() {
  if (!refreshToken) return null;
  try {
    if (!(await refreshTokens())) return null;
    if (!currentUser) currentUser = await api.get('/users/me');
    return currentUser;
  } catch {
    return null;
  }
}

/** A single-use ticket for opening a WebSocket from the browser. */
export async function wsTicket() {
  const t = await api.post('/auth/ws-ticket');
  return t.ticket;
}

/** ws(s):// URL on this server for an API path (or a server-given absolute/relative URL). */
export function wsUrl(pathOrUrl, params = {}) {
  let url;
  if (/^wss?:\/\//.test(pathOrUrl)) url = new URL(pathOrUrl);
  else if (/^https?:\/\//.test(pathOrUrl)) {
    url = new URL(pathOrUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  } else {
    url = new URL(pathOrUrl.startsWith('/api/') ? pathOrUrl : API + pathOrUrl, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  }
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  }
  return url.toString();
}

/** Fetch every page of a cursor-paged list (bounded). */
export async function listAll(path, query = {}, maxPages = 10) {
  const out = [];
  let cursor;
  for (let i = 0; i < maxPages; i++) {
    const page = await api.get(path, { ...query, limit: 100, cursor });
    const rows = Array.isArray(page) ? page : page.data || [];
    out.push(...rows);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return out;
}
