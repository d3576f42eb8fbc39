/** The bucket list, and creating a bucket (for callers with ADMIN somewhere). */
import { useApolloClient, useQuery } from '@apollo/client/react';
import { useId, useState } from 'react';
import { canCreateBuckets } from './access';
import { messageOf } from './errors';
import { useNotices } from './notices';
import { BUCKETS, CREATE_BUCKET, type Viewer } from './operations';

export function Buckets(props: { viewer: Viewer; selected: string | null; onSelect: (bucket: string) => void }) {
  const { data, loading, error } = useQuery(BUCKETS);
  const buckets = data?.buckets ?? [];
  return (
    <nav className="sidebar" aria-label="Buckets">
      <h2 className="sidebar-title">Buckets</h2>
      {loading && <p className="muted">Loading…</p>}
      {error && <p className="notice notice-error">{messageOf(error)}</p>}
      {!loading && !error && buckets.length === 0 && <p className="muted">No buckets yet.</p>}
      <ul className="bucket-list">
        {buckets.map((b) => (
          <li key={b.name}>
            <button
              type="button"
              className="bucket"
              aria-current={props.selected === b.name ? 'page' : undefined}
              onClick={() => props.onSelect(b.name)}
            >
              {b.name}
            </button>
          </li>
        ))}
      </ul>
      {canCreateBuckets(props.viewer) && <CreateBucket onCreated={props.onSelect} />}
    </nav>
  );
}

function CreateBucket(props: { onCreated: (bucket: string) => void }) {
  const client = useApolloClient();
  const notices = useNotices();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const id = useId();
  return (
    <form
      className="create-bucket"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        try {
          await client.mutate({ mutation: CREATE_BUCKET, variables: { name }, refetchQueries: [BUCKETS] });
          notices.info(`Bucket ${name} created.`);
          props.onCreated(name);
          setName('');
        } catch (err) {
          notices.error(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <label htmlFor={id}>New bucket name</label>
      <div className="inline">
        <input
          id={id}
          value={name}
          onChange={(e) => setName(e.target.value.toLowerCase())}
          placeholder="my-bucket"
          pattern="[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]"
          title="3 to 63 characters: lower-case letters, digits, dots and hyphens"
          autoComplete="off"
          spellCheck={false}
          required
        />
        <button type="submit" disabled={busy}>
          Create bucket
        </button>
      </div>
    </form>
  );
}
