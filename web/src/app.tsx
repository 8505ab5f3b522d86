import { QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { AuthProvider } from './auth.tsx';
import { registerServiceWorker } from './push.ts';
import { queryClient } from './query.ts';
import { AppRouter, afterFirstPage } from './router.tsx';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <AuthProvider>
        <AppRouter />
      </AuthProvider>
    </QueryClientProvider>
  </StrictMode>,
);

// push only: nothing on screen waits for the worker, so it starts once the first page is shown
afterFirstPage(registerServiceWorker);
