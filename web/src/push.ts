import { api, unwrap } from './api/client.ts';

/**
 * Registers the service worker (sw.js at the origin's root, so it controls every page). It only
 * handles pushes, so nothing on screen waits for it: it registers once the page has loaded and the
 * main thread is idle, rather than starting a worker while the first page is still rendering.
 */
export function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  const register = () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {
      // a browser that refuses service workers (private mode, http on a LAN address) still gets the dashboard
    });
  };
  const whenIdle = () =>
    'requestIdleCallback' in window
      ? requestIdleCallback(register, { timeout: 2000 })
      : setTimeout(register, 200);
  if (document.readyState === 'complete') whenIdle();
  else window.addEventListener('load', whenIdle, { once: true });
}

function urlBase64ToUint8Array(base64: string): Uint8Array<ArrayBuffer> {
  const padded = (base64 + '='.repeat((4 - (base64.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(padded);
  const bytes = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

export function pushSupported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/**
 * Asks the user for permission and subscribes this browser to web push with the server's VAPID key;
 * the subscription JSON is what send-test takes as `to` on the push channel.
 */
export async function subscribeToPush(): Promise<PushSubscriptionJSON> {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') throw new Error(`Notifications are ${permission} for this site`);
  const { publicKey } = unwrap(await api.GET('/api/push/vapid-public-key'));
  const registration = await navigator.serviceWorker.ready;
  const existing = await registration.pushManager.getSubscription();
  const subscription =
    existing ??
    (await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: urlBase64ToUint8Array(publicKey),
    }));
  return subscription.toJSON();
}

export type PushEvent = { kind: 'push-received' | 'push-opened'; id?: string; title?: string; at: string };

/** Calls `listener` for each push the service worker showed or the user opened. */
export function onPushMessage(listener: (event: PushEvent) => void): () => void {
  if (!('serviceWorker' in navigator)) return () => {};
  const handler = (message: MessageEvent) => {
    const data = message.data as PushEvent | undefined;
    if (data && (data.kind === 'push-received' || data.kind === 'push-opened')) listener(data);
  };
  navigator.serviceWorker.addEventListener('message', handler);
  return () => navigator.serviceWorker.removeEventListener('message', handler);
}
