/** Multipart uploads started in a bucket and neither completed nor aborted, each abortable. */
import { useApolloClient, useQuery } from '@apollo/client/react';
import { messageOf } from './errors';
import { formatDate } from './format';
import { useNotices } from './notices';
import { MULTIPART_ABORT, OPEN_UPLOADS } from './operations';

export function OpenUploads(props: { bucket: string; canAbort: boolean }) {
  const client = useApolloClient();
  const notices = useNotices();
  const { data, loading, error, refetch } = useQuery(OPEN_UPLOADS, { variables: { bucket: props.bucket } });
  const uploads = data?.bucket?.multipartUploads ?? [];
  return (
    <section className="open-uploads" aria-label="Open uploads">
      <header className="inline">
        <h3>Open uploads</h3>
        <button type="button" className="link" onClick={() => refetch().catch(() => undefined)}>
          Refresh
        </button>
      </header>
      {loading && <p className="muted">Loading…</p>}
      {error && <p className="notice notice-error">{messageOf(error)}</p>}
      {!loading && !error && uploads.length === 0 && <p className="muted">No open uploads.</p>}
      {uploads.length > 0 && (
        <ul className="open-upload-list">
          {uploads.map((u) => (
            <li key={u.id}>
              <span className="upload-name">{u.key}</span>
              <span className="muted">started {formatDate(u.initiatedAt)}</span>
              {props.canAbort && (
                <button
                  type="button"
                  className="link danger-link"
                  aria-label={`Abort upload of ${u.key}`}
                  onClick={async () => {
                    try {
                      await client.mutate({
                        mutation: MULTIPART_ABORT,
                        variables: { bucket: props.bucket, key: u.key, uploadId: u.uploadId },
                      });
                      notices.info(`Upload of ${u.key} aborted.`);
                      await refetch();
                    } catch (err) {
                      notices.error(err);
                    }
                  }}
                >
                  Abort
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
