// SwipeSavvy service worker: shows web push notifications and confirms their receipt to the API
// (POST /api/notifications/{id}/receipt), so the platform counts a push as delivered only when a
// browser really displayed it.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

async function confirm(id, event, receiptToken) {
  if (!id) return;
  try {
    await fetch(`/api/notifications/${encodeURIComponent(id)}/receipt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(receiptToken ? { event, token: receiptToken } : { event }),
    });
  } catch {
    // offline: the push was still shown; the server keeps it as sent
  }
}

async function tellPages(message) {
  const pages = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const page of pages) page.postMessage(message);
}

self.addEventListener('push', (event) => {
  let payload = {};
  try {
    payload = event.data ? event.data.json() : {};
  } catch {
    payload = { body: event.data ? event.data.text() : '' };
  }
  const id = payload.id ?? payload.notificationId;
  const title = payload.title ?? payload.subject ?? 'SwipeSavvy';
  event.waitUntil(
    (async () => {
      await self.registration.showNotification(title, {
        body: payload.body ?? payload.message ?? '',
        icon: '/favicon.svg',
        tag: id,
        data: { id, url: payload.url ?? '/', receiptToken: payload.receiptToken },
      });
      await confirm(id, 'displayed', payload.receiptToken);
      await tellPages({ kind: 'push-received', id, title, at: new Date().toISOString() });
    })(),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const { id, url, receiptToken } = event.notification.data ?? {};
  event.waitUntil(
    (async () => {
      await confirm(id, 'opened', receiptToken);
      await tellPages({ kind: 'push-opened', id, at: new Date().toISOString() });
      const pages = await self.clients.matchAll({ type: 'window' });
      if (pages[0]) return pages[0].focus();
      return self.clients.openWindow(url ?? '/');
    })(),
  );
});
