// The console's service worker: shows Web Push notifications (RFC 8291 payloads the browser
// already decrypted: {id, kind, title, body, priority, source_type, source_id}) and opens
// the notifications page when one is clicked.

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: 'Cadence', body: event.data ? event.data.text() : '' };
  }
  event.waitUntil(self.registration.showNotification(data.title || 'Cadence', {
    body: data.body || '',
    tag: data.id || undefined,
    renotify: Boolean(data.id),
    requireInteraction: data.priority === 'urgent',
    icon: '/assets/favicon.svg',
    data,
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const w of windows) {
      if (new URL(w.url).origin === self.location.origin) {
        await w.focus();
        w.navigate('/#/notifications').catch(() => {});
        return;
      }
    }
    await self.clients.openWindow('/#/notifications');
  })());
});
