/** One object: its details and preview, download, a share link, copy, rename and delete. */
import { useApolloClient, useQuery } from '@apollo/client/react';
import { useId, useState } from 'react';
import { authHeaders, token } from './api';
import { Confirm, Modal } from './dialog';
import { httpError, messageOf } from './errors';
import { baseName, formatDate, formatSize } from './format';
import { useNotices } from './notices';
import { COPY_OBJECT, DELETE_OBJECTS, OBJECT, type ObjectDetails, PRESIGN_GET } from './operations';
import { kindOf, Preview } from './preview';

const EXPIRIES = [
  { seconds: 900, label: '15 minutes' },
  { seconds: 3600, label: '1 hour' },
  { seconds: 86_400, label: '1 day' },
  { seconds: 604_800, label: '7 days' },
];

export function Details(props: {
  bucket: string;
  objectKey: string;
  canWrite: boolean;
  onClose: () => void;
  onChanged: () => void;
}) {
  const { bucket, objectKey } = props;
  const { data, loading, error } = useQuery(OBJECT, { variables: { bucket, key: objectKey } });
  const object = data?.object;
  return (
    <Modal title={baseName(objectKey)} onClose={props.onClose} wide>
      <div className="modal-body details">
        {loading && <p className="muted">Loading…</p>}
        {error && <p className="notice notice-error">{messageOf(error)}</p>}
        {!loading && !error && !object && <p className="notice notice-error">This object does not exist (any more).</p>}
        {object && <ObjectView {...props} object={object} />}
      </div>
    </Modal>
  );
}

function ObjectView(props: {
  bucket: string;
  object: ObjectDetails;
  canWrite: boolean;
  onClose: () => void;
  onChanged: () => void;
}) {
  const { bucket, object } = props;
  const client = useApolloClient();
  const notices = useNotices();
  const kind = kindOf(object.contentType, object.key);
  const [deleting, setDeleting] = useState(false);
  return (
    <>
      <dl className="facts">
        <dt>Key</dt>
        <dd className="mono">{object.key}</dd>
        <dt>Size</dt>
        <dd>
          {formatSize(object.size)} ({object.size.toLocaleString()} bytes)
        </dd>
        <dt>Type</dt>
        <dd>{object.contentType ?? '—'}</dd>
        <dt>ETag</dt>
        <dd className="mono">{object.etag}</dd>
        <dt>Last modified</dt>
        <dd>{formatDate(object.lastModified)}</dd>
        {object.storageClass && (
          <>
            <dt>Storage class</dt>
            <dd>{object.storageClass}</dd>
          </>
        )}
        <dt>Metadata</dt>
        <dd>
          {object.metadata.length === 0
            ? '—'
            : object.metadata.map((m) => (
                <div key={m.key} className="mono">
                  {m.key}: {m.value}
                </div>
              ))}
        </dd>
      </dl>
      {kind && (
        <section className="preview" aria-label="Preview">
          <Preview
            path={object.downloadPath}
            kind={kind}
            contentType={object.contentType}
            size={object.size}
            name={baseName(object.key)}
          />
        </section>
      )}
      <div className="actions actions-start">
        <Download path={object.downloadPath} name={baseName(object.key)} />
        {props.canWrite && (
          <button type="button" className="danger" onClick={() => setDeleting(true)}>
            Delete
          </button>
        )}
      </div>
      <Share bucket={bucket} objectKey={object.key} />
      {props.canWrite && <CopyRename {...props} />}
      {deleting && (
        <Confirm
          title={`Delete ${baseName(object.key)}?`}
          action="Delete"
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            try {
              await client.mutate({ mutation: DELETE_OBJECTS, variables: { bucket, keys: [object.key] } });
              notices.info(`${object.key} deleted.`);
              props.onChanged();
              props.onClose();
            } catch (err) {
              notices.error(err);
            }
          }}
        >
          <p>This cannot be undone.</p>
        </Confirm>
      )}
    </>
  );
}

/** Without a key, a plain link (`?download=1` asks for an attachment); with one, the bytes fetched with it, then saved. */
function Download(props: { path: string; name: string }) {
  const notices = useNotices();
  const href = `${props.path}?download=1`;
  if (token.get() === null)
    return (
      <a className="button" href={href} download={props.name}>
        Download
      </a>
    );
  return (
    <button
      type="button"
      onClick={async () => {
        try {
          const res = await fetch(href, { headers: authHeaders() });
          if (!res.ok) throw await httpError(res);
          const url = URL.createObjectURL(await res.blob());
          const a = document.createElement('a');
          a.href = url;
          a.download = props.name;
          a.click();
          setTimeout(() => URL.revokeObjectURL(url), 60_000);
        } catch (err) {
          notices.error(err);
        }
      }}
    >
      Download
    </button>
  );
}

/** A presigned GET with the expiry chosen, copied to the clipboard (and shown, to copy by hand where that is refused). */
function Share(props: { bucket: string; objectKey: string }) {
  const client = useApolloClient();
  const notices = useNotices();
  const [expiresIn, setExpiresIn] = useState(3600);
  const [link, setLink] = useState<{ url: string; expiresAt: string } | null>(null);
  const expiryId = useId();
  const linkId = useId();
  return (
    <section className="share" aria-label="Share">
      <h3>Share link</h3>
      <div className="inline wrap">
        <label htmlFor={expiryId}>Expires after</label>
        <select id={expiryId} value={expiresIn} onChange={(e) => setExpiresIn(Number(e.target.value))}>
          {EXPIRIES.map((e) => (
            <option key={e.seconds} value={e.seconds}>
              {e.label}
            </option>
          ))}
        </select>
        <button
          type="button"
          onClick={async () => {
            try {
              const { data } = await client.mutate({
                mutation: PRESIGN_GET,
                variables: { bucket: props.bucket, key: props.objectKey, expiresIn },
              });
              setLink(data!.presign);
              await navigator.clipboard
                .writeText(data!.presign.url)
                .then(() => notices.info('Share link copied to the clipboard.'))
                .catch(() => notices.info('Share link created: copy it from the field.'));
            } catch (err) {
              notices.error(err);
            }
          }}
        >
          Create share link
        </button>
      </div>
      {link && (
        <p className="field">
          <label htmlFor={linkId}>Link (until {formatDate(link.expiresAt)})</label>
          <input id={linkId} readOnly value={link.url} onFocus={(e) => e.target.select()} className="mono" />
        </p>
      )}
    </section>
  );
}

/** Copy to a new key in the same bucket; rename is a copy, then the old key deleted. */
function CopyRename(props: { bucket: string; object: ObjectDetails; onClose: () => void; onChanged: () => void }) {
  const { bucket, object } = props;
  const client = useApolloClient();
  const notices = useNotices();
  const [target, setTarget] = useState(object.key);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const run = async (rename: boolean) => {
    setBusy(true);
    try {
      await client.mutate({ mutation: COPY_OBJECT, variables: { bucket, key: target, sourceKey: object.key } });
      if (rename) await client.mutate({ mutation: DELETE_OBJECTS, variables: { bucket, keys: [object.key] } });
      notices.info(`${rename ? 'Renamed' : 'Copied'} to ${target}.`);
      props.onChanged();
      if (rename) props.onClose();
    } catch (err) {
      notices.error(err);
    } finally {
      setBusy(false);
    }
  };
  const unchanged = target === object.key || target === '';
  return (
    <section className="copy" aria-label="Copy or rename">
      <h3>Copy or rename</h3>
      <p className="field">
        <label htmlFor={id}>New key</label>
        <input id={id} value={target} onChange={(e) => setTarget(e.target.value)} className="mono" spellCheck={false} />
      </p>
      <div className="actions actions-start">
        <button type="button" disabled={unchanged || busy} onClick={() => run(false)}>
          Copy
        </button>
        <button type="button" disabled={unchanged || busy} onClick={() => run(true)}>
          Rename
        </button>
      </div>
    </section>
  );
}
