// The bell in the top bar (unread notifications, kept live by `notification.*` events) and
// the Web Push opt-in (service worker + PushManager.subscribe + our subscription route).

import { api, has } from './api.js';
import { subscribe } from './events.js';
import { debounce } from './ui.js';

let unsubscribe = null;

async function refreshBell(bell, count) {
  try {
    const page = await api.get('/notifications', { unread: 'true', limit: 100 });
    const n = (page.data || []).length;
    const text = page.next_cursor ? '99+' : String(n);
    count.textContent = n ? text : '';
    count.hidden = !n;
    bell.setAttribute('aria-label', n ? `Notifications, ${text} unread` : 'Notifications');
    bell.dataset.unread = String(n);
  } catch {
    // The bell is a convenience: a failed count leaves the last one.
  }
}

/** Show the bell and keep its count live; `stopBell()` on sign-out. */
export function startBell() {
  const bell = document.getElementById('bell');
  const count = document.getElementById('bell-count');
  if (!bell || !has('/notifications')) return;
  bell.hidden = false;
  const refresh = debounce(() => refreshBell(bell, count), 150);
  refreshBell(bell, count);
  unsubscribe?.();
  unsubscribe = subscribe(['notification.', 'events.resync'], refresh);
}

export function stopBell() {
  unsubscribe?.();
  unsubscribe = null;
  const bell = document.getElementById('bell');
  if (bell) bell.hidden = true;
}

function base64UrlToBytes(s) {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

export function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window
    && has('/notifications/push-subscriptions', 'post');
}

/** The current browser's push subscription, if any. */
export async function currentPush() {
  if (!pushSupported()) return null;
  const reg = await navigator.serviceWorker.getRegistration('/assets/');
  return reg ? reg.pushManager.getSubscription() : null;
}

/** Ask for permission, subscribe at the browser's push service, register it with us. */
export async function enablePush() {
  if (!pushSupported()) throw new Error('This browser does not support Web Push.');
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') throw new Error('Notifications are blocked for this site.');
  const reg = await navigator.serviceWorker.register('/assets/sw.js', { scope: '/assets/' });
  await navigator.serviceWorker.ready;
  const { key } = await api.get('/notifications/vapid-public-key');
  let sub = await reg.pushManager.getSubscription();
  if (!sub) {
    sub = await reg.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: base64UrlToBytes(key),
    });
  }
  const json = sub.toJSON();
  return api.post('/notifications/push-subscriptions', {
    endpoint: json.endpoint,
    keys: { p256dh: json.keys.p256dh, auth: json.keys.auth },
  });
}

/** Unsubscribe this browser and forget its subscription on the server. */
export async function disablePush() {
  const sub = await currentPush();
  if (!sub) return;
  const endpoint = sub.endpoint;
  await sub.unsubscribe();
  const page = await api.get('/notifications/push-subscriptions');
  for (const s of page.data || []) {
    if (s.endpoint === endpoint) await api.del(`/notifications/push-subscriptions/${s.id}`);
  }
}
