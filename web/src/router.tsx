import type { ComponentType } from 'react';
import { createBrowserRouter, type LoaderFunctionArgs, Navigate, Outlet, RouterProvider } from 'react-router';
import { loadSession } from './api/client.ts';
import { useAuth } from './auth.tsx';
import { Layout } from './components/Layout.tsx';
import { RouteError } from './components/RouteError.tsx';
import { Loading } from './components/ui.tsx';
import { LoginPage } from './pages/LoginPage.tsx';
import { loadCampaignPage, prefetchCampaignPage } from './query.ts';

// Every page but sign-in is its own chunk: the first load carries only the shell and the login form.
// The router loads a page's chunk before it renders the page (route `lazy`), side by side with the
// page's loader, instead of React.lazy suspending inside the rendered tree: no "Loading…" fallback is
// committed only to be replaced, and React's throttled reveal of suspended content (up to 300 ms
// after a fallback shows) never sits between the code's arrival and the page on screen.
const page = (load: () => Promise<{ default: ComponentType }>) => async () => ({
  Component: (await load()).default,
});

function RequireAuth({ children }: { children: React.ReactNode }) {
  const { session } = useAuth();
  if (!session) return <Navigate to="/login" replace />;
  return children;
}

function GuestOnly({ children }: { children: React.ReactNode }) {
  const { session } = useAuth();
  if (session) return <Navigate to="/campaigns" replace />;
  return children;
}

/**
 * The campaign page's own data, fetched while its code loads (on the first load, the entry module
 * has already started both): the page then renders once, with its metrics (the campaign carries
 * them), rather than first as "Loading…". A failed fetch is not thrown here: the page's query shows
 * the error where the campaign would be.
 */
async function campaignLoader({ params }: LoaderFunctionArgs) {
  if (!params['id'] || !loadSession()) return null; // signed out: RequireAuth sends to /login
  await prefetchCampaignPage(params['id']);
  return null;
}

const router = createBrowserRouter([
  {
    errorElement: <RouteError />,
    // the first load, while the page's code (and the campaign page's data) arrive
    hydrateFallbackElement: <Loading />,
    children: [
      {
        element: (
          <GuestOnly>
            <Outlet />
          </GuestOnly>
        ),
        children: [
          { path: '/login', element: <LoginPage /> },
          { path: '/signup', lazy: page(() => import('./pages/SignupPage.tsx')) },
        ],
      },
      {
        path: '/',
        element: (
          <RequireAuth>
            <Layout />
          </RequireAuth>
        ),
        errorElement: <RouteError />,
        children: [
          { index: true, element: <Navigate to="/campaigns" replace /> },
          { path: 'campaigns', lazy: page(() => import('./pages/CampaignsPage.tsx')) },
          { path: 'campaigns/new', lazy: page(() => import('./pages/CampaignFormPage.tsx')) },
          {
            path: 'campaigns/:id',
            loader: campaignLoader,
            lazy: page(loadCampaignPage),
          },
          { path: 'campaigns/:id/edit', lazy: page(() => import('./pages/CampaignFormPage.tsx')) },
          { path: 'portfolio', lazy: page(() => import('./pages/PortfolioPage.tsx')) },
          { path: 'notifications', lazy: page(() => import('./pages/NotificationsPage.tsx')) },
          { path: 'mailbox', lazy: page(() => import('./pages/MailboxPage.tsx')) },
          { path: 'merchants', lazy: page(() => import('./pages/MerchantsPage.tsx')) },
          { path: 'ops', lazy: page(() => import('./pages/OpsPage.tsx')) },
          { path: '*', element: <RouteError notFound /> },
        ],
      },
    ],
  },
]);

/** Calls `callback` once, when the first page has loaded (its code and data) and is being shown. */
export function afterFirstPage(callback: () => void): void {
  const shown = () => router.state.initialized && router.state.navigation.state === 'idle';
  if (shown()) {
    callback();
    return;
  }
  const unsubscribe = router.subscribe(() => {
    if (!shown()) return;
    unsubscribe();
    callback();
  });
}

export function AppRouter() {
  return <RouterProvider router={router} />;
}
