// The console's entry point: the shell (navigation, who is signed in, live status) and a
// hash router that loads each view on demand. Views export functions
// `(main, params, query) => cleanup?`.

import * as client from './api.js';
import * as events from './events.js';
import { h, replace, loadError, unavailable, toast } from './ui.js';
import { startBell, stopBell } from './notify.js';

const ROUTES = [
  { path: '/login', load: () => import('./views/auth.js'), fn: 'login', title: 'Sign in', public: true },
  { path: '/register', load: () => import('./views/auth.js'), fn: 'register', title: 'Create account', public: true },
  { path: '/', load: () => import('./views/home.js'), fn: 'home', title: 'Home' },
  { path: '/profile', load: () => import('./views/profile.js'), fn: 'profile', title: 'Profile' },
  { path: '/tasks', load: () => import('./views/tasks.js'), fn: 'tasks', title: 'Tasks', needs: '/tasks', what: 'Tasks are' },
  { path: '/notifications', load: () => import('./views/notifications.js'), fn: 'notifications', title: 'Notifications', needs: '/notifications', what: 'Notifications are' },
  { path: '/day', load: () => import('./views/day.js'), fn: 'day', title: 'Day', needs: '/schedule', what: 'The day planner is' },
  { path: '/notes', load: () => import('./views/notes.js'), fn: 'list', title: 'Notes', needs: '/notes', what: 'Notes are' },
  { path: '/notes/:id', load: () => import('./views/notes.js'), fn: 'edit', title: 'Note', needs: '/notes/{id}', what: 'Notes are' },
  { path: '/goals', load: () => import('./views/goals.js'), fn: 'list', title: 'Goals', needs: '/goals', what: 'Goals are' },
  { path: '/goals/:id', load: () => import('./views/goals.js'), fn: 'detail', title: 'Goal', needs: '/goals/{id}', what: 'Goals are' },
  { path: '/reflections', load: () => import('./views/reflections.js'), fn: 'reflections', title: 'Reflections', needs: '/reflections', what: 'Reflections are' },
  { path: '/memories', load: () => import('./views/memories.js'), fn: 'memories', title: 'Memories', needs: '/memories', what: 'Memories are' },
  { path: '/chat', load: () => import('./views/chat.js'), fn: 'chat', title: 'Chat', needs: '/conversations', what: 'Chat is' },
  { path: '/chat/:id', load: () => import('./views/chat.js'), fn: 'chat', title: 'Chat', needs: '/conversations', what: 'Chat is' },
  { path: '/talk', load: () => import('./views/talk.js'), fn: 'talk', title: 'Talk', needs: '/voice/sessions', what: 'Talking to an agent is' },
  { path: '/agents', load: () => import('./views/agents.js'), fn: 'list', title: 'Agents', needs: '/agents', what: 'Agents are' },
  { path: '/agents/new', load: () => import('./views/agents.js'), fn: 'edit', title: 'New agent', needs: '/agents', what: 'Agents are' },
  { path: '/agents/:id', load: () => import('./views/agents.js'), fn: 'edit', title: 'Agent', needs: '/agents/{id}', what: 'Agents are' },
  { path: '/calls', load: () => import('./views/calls.js'), fn: 'list', title: 'Calls', needs: '/calls', what: 'Calls are' },
  { path: '/calls/:id', load: () => import('./views/calls.js'), fn: 'detail', title: 'Call', needs: '/calls/{id}', what: 'Calls are' },
  { path: '/wallet', load: () => import('./views/wallet.js'), fn: 'wallet', title: 'Wallet', needs: '/wallet', what: 'The wallet is' },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const menuButton = document.getElementById('menu-button');
const whoami = document.getElementById('whoami');
const liveStatus = document.getElementById('live-status');
let cleanup = null;
let renderSeq = 0;
let afterLogin = '#/';

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  return { path: path || '/', query: new URLSearchParams(qs || '') };
}

function match(path) {
  for (const r of ROUTES) {
    const names = [];
    const re = new RegExp('^' + r.path.replace(/:(\w+)/g, (_, n) => {
      names.push(n);
      return '([^/]+)';
    }) + '/?$');
    const m = re.exec(path);
    if (m) {
      const params = {};
      names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
      return { route: r, params };
    }
  }
  return null;
}

async function render() {
  const seq = ++renderSeq;
  const { path, query } = parseHash();
  const found = match(path);
  if (typeof cleanup === 'function') {
    try { cleanup(); } catch (e) { console.error(e); }
  }
  cleanup = null;
  closeMenu();
  if (!found) {
    document.title = 'Not found · Cadence';
    replace(main, h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', null, h('a', { href: '#/' }, 'Go to the home page')));
    focusHeading();
    return;
  }
  const { route, params } = found;
  const signedIn = Boolean(client.currentUserInfo());
  if (!route.public && !signedIn) {
    afterLogin = location.hash || '#/';
    location.replace('#/login');
    return;
  }
  if (route.public && signedIn) {
    location.replace('#/');
    return;
  }
  document.title = `${route.title} · Cadence`;
  markCurrent(path);
  if (route.needs && !client.has(route.needs)) {
    replace(main, h('h1', { tabindex: '-1' }, route.title), unavailable(route.what));
    focusHeading();
    return;
  }
  try {
    const mod = await route.load();
    if (seq !== renderSeq) return;
    // Each render gets its own host inside <main>: a view still loading when the user
    // navigates away keeps writing into its detached host, never over the next page.
    const host = h('div', { class: 'view-host' });
    replace(main, host);
    const done = await mod[route.fn](host, params, query);
    if (seq !== renderSeq) {
      if (typeof done === 'function') {
        try { done(); } catch (e) { console.error(e); }
      }
      return;
    }
    cleanup = done;
  } catch (err) {
    if (seq !== renderSeq) return;
    console.error(err);
    replace(main, h('h1', { tabindex: '-1' }, route.title), loadError(err, route.what || 'This page is'));
  }
  if (seq === renderSeq) focusHeading();
}

function focusHeading() {
  // Move focus to the new page's heading so keyboard and screen-reader users land on it.
  const h1 = main.querySelector('h1');
  if (h1 && !main.contains(document.activeElement)) h1.focus({ preventScroll: true });
  else if (h1 && document.activeElement === document.body) h1.focus({ preventScroll: true });
}

function markCurrent(path) {
  const section = '/' + (path.split('/')[1] || '');
  for (const a of nav.querySelectorAll('a')) {
    const target = a.getAttribute('href').slice(1);
    if (target === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
    const r = ROUTES.find((x) => x.path === target);
    a.classList.toggle('unavailable', Boolean(r && r.needs && !client.has(r.needs)));
  }
}

function closeMenu() {
  nav.classList.remove('open');
  menuButton.setAttribute('aria-expanded', 'false');
}

// The skip link must not change the hash (that is the router's): move focus instead.
document.querySelector('.skip-link').addEventListener('click', (ev) => {
  ev.preventDefault();
  (main.querySelector('h1') || main).focus();
});

menuButton.addEventListener('click', () => {
  const open = !nav.classList.contains('open');
  nav.classList.toggle('open', open);
  menuButton.setAttribute('aria-expanded', String(open));
  if (open) nav.querySelector('a')?.focus();
});

document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && nav.classList.contains('open')) {
    closeMenu();
    menuButton.focus();
  }
});

const STATUS_TEXT = {
  live: 'Live',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  unavailable: 'Live updates off',
  off: '',
};

events.onStatus((s) => {
  liveStatus.hidden = !STATUS_TEXT[s];
  liveStatus.textContent = STATUS_TEXT[s] || '';
  liveStatus.dataset.state = s;
  liveStatus.title = s === 'unavailable' ? 'This server does not offer live updates' : '';
});

function renderShell(user) {
  const signedIn = Boolean(user);
  nav.hidden = !signedIn;
  menuButton.hidden = !signedIn;
  document.body.classList.toggle('signed-in', signedIn);
  if (!signedIn) {
    replace(whoami);
    return;
  }
  replace(whoami,
    h('a', { href: '#/profile', class: 'who', title: user.email }, user.full_name || user.email),
    h('button', {
      type: 'button',
      class: 'link-button',
      onclick: async () => {
        await client.logout().catch(() => {});
        toast('Signed out.');
      },
    }, 'Sign out'));
}

let shellUser = null;

client.onAuthChange((user) => {
  const changed = Boolean(user) !== Boolean(shellUser);
  shellUser = user;
  renderShell(user);
  if (!changed) return; // the profile changed, not who is signed in
  if (user) {
    events.start();
    startBell();
    const target = afterLogin;
    afterLogin = '#/';
    if (location.hash.startsWith('#/login') || location.hash.startsWith('#/register')) location.replace(target);
    else render();
  } else {
    events.stop();
    stopBell();
    if (!location.hash.startsWith('#/register')) {
      if (location.hash === '#/login') render();
      else location.replace('#/login');
    } else {
      render();
    }
  }
});

async function boot() {
  await client.loadCapabilities();
  const user = await client.resume();
  shellUser = user;
  renderShell(user);
  if (user) {
    events.start();
    startBell();
  }
  window.addEventListener('hashchange', render);
  await render();
  document.body.dataset.ready = 'true';
}

boot();
