/**
 * The console's frame: who is calling (`viewer`; an API key prompt when the
 * server answers UNAUTHENTICATED), the buckets, and the open bucket.
 */
import { useApolloClient } from '@apollo/client/react';
import { useCallback, useEffect, useId, useState } from 'react';
import { token } from './api';
import { Browser } from './browser';
import { Buckets } from './buckets';
import { codeOf, messageOf } from './errors';
import { VIEWER, type Viewer } from './operations';
import { UploadsProvider } from './upload-queue';

type Session = { state: 'loading' } | { state: 'key'; problem?: string } | { state: 'ready'; viewer: Viewer };

export function App() {
  const client = useApolloClient();
  const [session, setSession] = useState<Session>({ state: 'loading' });
  const [bucket, setBucket] = useState<string | null>(null);

  const identify = useCallback(async () => {
    try {
      const { data } = await client.query({ query: VIEWER });
      setSession({ state: 'ready', viewer: data!.viewer });
    } catch (err) {
      if (codeOf(err) !== 'UNAUTHENTICATED') {
        setSession({ state: 'key', problem: messageOf(err) });
        return;
      }
      const had = token.get() !== null;
      token.clear();
      setSession({ state: 'key', ...(had && { problem: 'This API key is not accepted.' }) });
    }
  }, [client]);

  useEffect(() => {
    identify();
  }, [identify]);

  const signOut = () => {
    token.clear();
    setBucket(null);
    client.clearStore();
    setSession({ state: 'key' });
  };

  if (session.state === 'loading') return <p className="loading">Loading…</p>;
  if (session.state === 'key')
    return (
      <KeyPrompt
        problem={session.problem}
        onKey={(value) => {
          token.set(value);
          setSession({ state: 'loading' });
          identify();
        }}
      />
    );
  const { viewer } = session;
  return (
    <UploadsProvider>
      <div className="layout">
        <header className="topbar">
          <h1>
            s3-graphql <span className="muted">console</span>
          </h1>
          <nav className="topbar-links" aria-label="Elsewhere">
            <a href="/graphql">GraphiQL</a>
            {!viewer.anonymous && (
              <>
                <span className="who" title="API key">
                  {viewer.name}
                </span>
                <button type="button" className="on-dark" onClick={signOut}>
                  Sign out
                </button>
              </>
            )}
          </nav>
        </header>
        <Buckets viewer={viewer} selected={bucket} onSelect={setBucket} />
        <main className="main">
          {bucket ? (
            <Browser key={bucket} bucket={bucket} viewer={viewer} onDeleted={() => setBucket(null)} />
          ) : (
            <p className="empty">Choose a bucket.</p>
          )}
        </main>
      </div>
    </UploadsProvider>
  );
}

/** The API key form: the key stays in this tab (sessionStorage) and goes with every request as a Bearer token. */
function KeyPrompt(props: { problem?: string | undefined; onKey: (key: string) => void }) {
  const [value, setValue] = useState('');
  const id = useId();
  return (
    <main className="signin">
      <form
        className="card"
        onSubmit={(event) => {
          event.preventDefault();
          if (value.trim() !== '') props.onKey(value.trim());
        }}
      >
        <h1>s3-graphql console</h1>
        <p>This server needs an API key.</p>
        <p className="field">
          <label htmlFor={id}>API key</label>
          <input
            id={id}
            type="password"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            autoComplete="off"
            required
          />
        </p>
        {props.problem && (
          <p role="alert" className="notice notice-error">
            {props.problem}
          </p>
        )}
        <p className="hint">Kept for this tab only; closing it forgets the key.</p>
        <button type="submit" className="primary card-submit">
          Sign in
        </button>
      </form>
    </main>
  );
}
