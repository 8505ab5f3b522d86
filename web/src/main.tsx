// The entry module: small, so it runs as soon as the document is parsed. It starts what the first
// page needs (its data and its code) and, in parallel, the app itself (React, the router, the
// pages), instead of the first request leaving only once all of that has been fetched and run.
import { prefetchFirstPage } from './query.ts';
import './styles.css';

prefetchFirstPage(window.location.pathname);
void import('./app.tsx');
