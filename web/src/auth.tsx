import { useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import {
  type LoginResult,
  loadSession,
  type Session,
  saveSession,
  setUnauthorizedHandler,
} from './api/client.ts';

type AuthState = {
  session: Session | null;
  login(result: LoginResult): void;
  logout(): void;
};

const AuthContext = createContext<AuthState | null>(null);

/** The signed-in user, kept in localStorage so a reload stays signed in until the token expires. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const queryClient = useQueryClient();

  const logout = useCallback(() => {
    saveSession(null);
    setSession(null);
    queryClient.clear();
  }, [queryClient]);

  const login = useCallback((result: LoginResult) => {
    const next = { token: result.token, expiresAt: Date.now() + result.expiresIn * 1000, user: result.user };
    saveSession(next);
    setSession(next);
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(logout);
    // a sign-in or sign-out in another tab applies here too
    const onStorage = () => setSession(loadSession());
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, [logout]);

  const value = useMemo(() => ({ session, login, logout }), [session, login, logout]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error('useAuth outside AuthProvider');
  return state;
}
