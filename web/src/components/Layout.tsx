import { useState } from 'react';
import { NavLink, Outlet, useNavigation } from 'react-router';
import { useAuth } from '../auth.tsx';

const links = [
  ['/campaigns', 'Campaigns'],
  ['/portfolio', 'Portfolio'],
  ['/notifications', 'Notifications'],
  ['/mailbox', 'Mailbox'],
  ['/merchants', 'Merchants'],
  ['/ops', 'Operations'],
] as const;

export function Layout() {
  const { session, logout } = useAuth();
  const [open, setOpen] = useState(false);
  // the next page's code and data load before it shows: say so while the current page stays
  const navigating = useNavigation().state !== 'idle';
  return (
    <div className="shell" aria-busy={navigating}>
      {navigating ? <div className="nav-progress" role="progressbar" aria-label="Loading the page" /> : null}
      <header className="topbar">
        <NavLink to="/campaigns" className="brand">
          SwipeSavvy
        </NavLink>
        <button
          type="button"
          className="menu-toggle"
          aria-expanded={open}
          aria-controls="main-nav"
          onClick={() => setOpen(!open)}
        >
          Menu
        </button>
        <nav id="main-nav" className={open ? 'open' : ''}>
          {links.map(([to, label]) => (
            <NavLink key={to} to={to} onClick={() => setOpen(false)}>
              {label}
            </NavLink>
          ))}
        </nav>
        <div className="user">
          <span className="user-name" title={session?.user.email}>
            {session?.user.name}
          </span>
          <button type="button" className="secondary" onClick={logout}>
            Log out
          </button>
        </div>
      </header>
      <main className="content">
        <Outlet />
      </main>
    </div>
  );
}
