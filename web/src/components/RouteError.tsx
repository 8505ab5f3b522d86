import { isRouteErrorResponse, Link, useRouteError } from 'react-router';

/** What a page that failed to render shows instead of a blank screen. */
export function RouteError({ notFound = false }: { notFound?: boolean }) {
  const error = useRouteError();
  const missing = notFound || (isRouteErrorResponse(error) && error.status === 404);
  const message = missing
    ? 'There is no page at this address.'
    : error instanceof Error
      ? error.message
      : 'Something went wrong while showing this page.';
  return (
    <div className="page error-page" role="alert">
      <h1>{missing ? 'Page not found' : 'This page could not be shown'}</h1>
      <p>{message}</p>
      <p>
        <Link to="/campaigns">Back to campaigns</Link> ·{' '}
        <button type="button" className="link" onClick={() => window.location.reload()}>
          Reload
        </button>
      </p>
    </div>
  );
}
