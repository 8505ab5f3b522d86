import { lazy, Suspense } from 'react';
import { createBrowserRouter, Navigate, RouterProvider } from 'react-router';
import { useAuth } from './auth.tsx';
import { Layout } from './components/Layout.tsx';
import { RouteError } from './components/RouteError.tsx';
import { Loading } from './components/ui.tsx';
import { LoginPage } from './pages/LoginPage.tsx';
import { campaignQuery, queryClient } from './query.ts';

// Every page but sign-in is its own chunk: the first load carries only the shell and the login form.
const CampaignsPage = lazy(() => import('./pages/CampaignsPage.tsx'));
const CampaignFormPage = lazy(() => import('./pages/CampaignFormPage.tsx'));
const loadCampaignPage = () => import('./pages/CampaignPage.tsx');
const CampaignPage = lazy(loadCampaignPage);
const PortfolioPage = lazy(() => import('./pages/PortfolioPage.tsx'));
const NotificationsPage = lazy(() => import('./pages/NotificationsPage.tsx'));
const MailboxPage = lazy(() => import('./pages/MailboxPage.tsx'));
const MerchantsPage = lazy(() => import('./pages/MerchantsPage.tsx'));
const OpsPage = lazy(() => import('./pages/OpsPage.tsx'));
const SignupPage = lazy(() => import('./pages/SignupPage.tsx'));

function Page({ children }: { children: React.ReactNode }) {
  return <Suspense fallback={<Loading />}>{children}</Suspense>;
}

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

const router = createBrowserRouter([
  {
    errorElement: <RouteError />,
    children: [
      {
        path: '/login',
        element: (
          <GuestOnly>
            <LoginPage />
          </GuestOnly>
        ),
      },
      {
        path: '/signup',
        element: (
          <GuestOnly>
            <Page>
              <SignupPage />
            </Page>
          </GuestOnly>
        ),
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
          {
            path: 'campaigns',
            element: (
              <Page>
                <CampaignsPage />
              </Page>
            ),
          },
          {
            path: 'campaigns/new',
            element: (
              <Page>
                <CampaignFormPage />
              </Page>
            ),
          },
          {
            path: 'campaigns/:id',
            // the page's code and its campaign load side by side rather than one after the other
            loader: ({ params }) => {
              void loadCampaignPage();
              if (params.id) void queryClient.prefetchQuery(campaignQuery(params.id));
              return null;
            },
            element: (
              <Page>
                <CampaignPage />
              </Page>
            ),
          },
          {
            path: 'campaigns/:id/edit',
            element: (
              <Page>
                <CampaignFormPage />
              </Page>
            ),
          },
          {
            path: 'portfolio',
            element: (
              <Page>
                <PortfolioPage />
              </Page>
            ),
          },
          {
            path: 'notifications',
            element: (
              <Page>
                <NotificationsPage />
              </Page>
            ),
          },
          {
            path: 'mailbox',
            element: (
              <Page>
                <MailboxPage />
              </Page>
            ),
          },
          {
            path: 'merchants',
            element: (
              <Page>
                <MerchantsPage />
              </Page>
            ),
          },
          {
            path: 'ops',
            element: (
              <Page>
                <OpsPage />
              </Page>
            ),
          },
          { path: '*', element: <RouteError notFound /> },
        ],
      },
    ],
  },
]);

export function AppRouter() {
  return <RouterProvider router={router} />;
}
