/**
 * One bucket: its folders (prefixes up to "/") with breadcrumbs, one page of
 * objects at a time (cursor paging: a bucket is never listed whole), a
 * prefix filter, sorting within the page, selection and deletes, uploads by
 * picker or drag-and-drop, open multipart uploads, and an object's details.
 */
import { useApolloClient, useQuery } from '@apollo/client/react';
import { useEffect, useId, useState } from 'react';
import { abilitiesOn } from './access';
import { Confirm } from './dialog';
import { Details } from './details';
import { SENTENCES } from './errors';
import { baseName } from './format';
import { ObjectTable } from './object-table';
import { useNotices } from './notices';
import { OpenUploads } from './open-uploads';
import { BUCKETS, DELETE_BUCKET, DELETE_OBJECTS, DELETE_PREFIX, LIST, type Viewer } from './operations';
import { droppedFiles, type Picked, UploadPickers } from './pickers';
import { useUploads } from './upload-queue';

const PAGE_SIZES = [50, 100, 500];
/** The most keys `deleteObjects` takes at once. */
const DELETE_BATCH = 1000;

type Pending = { kind: 'selection'; keys: string[] } | { kind: 'folder'; prefix: string } | { kind: 'bucket' };

export function Browser(props: { bucket: string; viewer: Viewer; onDeleted: () => void }) {
  const { bucket } = props;
  const client = useApolloClient();
  const notices = useNotices();
  const uploads = useUploads();
  const can = abilitiesOn(props.viewer, bucket);
  const [folder, setFolder] = useState('');
  const [filter, setFilter] = useState('');
  const [pageSize, setPageSize] = useState(100);
  /** The `after` cursor of each page so far: the last is the page shown. */
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [details, setDetails] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const [showUploads, setShowUploads] = useState(false);
  const [dragging, setDragging] = useState(false);
  const filterId = useId();
  const sizeId = useId();

  const after = cursors[cursors.length - 1] ?? null;
  const { data, loading, error, refetch } = useQuery(LIST, {
    variables: { bucket, prefix: folder + filter, first: pageSize, after },
  });
  const listing = data?.bucket?.objects;

  // Back to the first page whenever what is listed changes.
  const open = (prefix: string) => {
    setFolder(prefix);
    setFilter('');
    setCursors([null]);
    setSelected(new Set());
  };
  useEffect(() => {
    if (uploads.finished > 0) refetch().catch(() => undefined);
  }, [uploads.finished, refetch]);
  useEffect(() => {
    if (error) notices.error(error);
  }, [error, notices]);

  const upload = (picked: Picked[]) => {
    if (picked.length === 0) return;
    uploads.enqueue(
      bucket,
      picked.map(({ path, file }) => ({ key: folder + path, file })),
    );
  };

  async function confirmDelete(what: Pending) {
    try {
      if (what.kind === 'bucket') {
        await client.mutate({ mutation: DELETE_BUCKET, variables: { name: bucket }, refetchQueries: [BUCKETS] });
        notices.info(`Bucket ${bucket} deleted.`);
        props.onDeleted();
        return;
      }
      let failed = 0;
      if (what.kind === 'selection') {
        for (let i = 0; i < what.keys.length; i += DELETE_BATCH) {
          const keys = what.keys.slice(i, i + DELETE_BATCH);
          const result = await client.mutate({ mutation: DELETE_OBJECTS, variables: { bucket, keys } });
          failed += result.data!.deleteObjects.errors.length;
        }
        setSelected(new Set());
      } else {
        const result = await client.mutate({ mutation: DELETE_PREFIX, variables: { bucket, prefix: what.prefix } });
        failed = result.data!.deletePrefix.errors.length;
      }
      if (failed > 0) notices.error(new Error(`${failed} object(s) could not be deleted.`));
      else notices.info(what.kind === 'folder' ? `Folder ${what.prefix} deleted.` : 'Deleted.');
      setPending(null);
      await refetch();
    } catch (err) {
      notices.error(err);
    }
  }

  const crumbs = folder === '' ? [] : folder.slice(0, -1).split('/');
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: dropping files is an addition; the pickers do the same by keyboard.
    <div
      className={dragging ? 'browser dragging' : 'browser'}
      onDragOver={(event) => {
        if (!can.write || !event.dataTransfer.types.includes('Files')) return;
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(event) => {
        if (event.currentTarget === event.target) setDragging(false);
      }}
      onDrop={async (event) => {
        if (!can.write) return;
        event.preventDefault();
        setDragging(false);
        upload(await droppedFiles(event.dataTransfer));
      }}
    >
      <header className="browser-header">
        <h2 className="bucket-name">{bucket}</h2>
        <div className="header-actions">
          <button type="button" onClick={() => setShowUploads(!showUploads)} aria-expanded={showUploads}>
            Open uploads
          </button>
          {can.admin && (
            <button type="button" className="danger" onClick={() => setPending({ kind: 'bucket' })}>
              Delete bucket
            </button>
          )}
        </div>
      </header>
      {showUploads && <OpenUploads bucket={bucket} canAbort={can.write} />}
      {/* At the top of the bucket, its heading says where you are. */}
      {folder !== '' && (
        <nav aria-label="Folder path" className="crumbs">
          <ol>
            <li>
              <button type="button" className="link" onClick={() => open('')} aria-current={folder === '' || undefined}>
                {bucket}
              </button>
            </li>
            {crumbs.map((name, i) => {
              const prefix = `${crumbs.slice(0, i + 1).join('/')}/`;
              return (
                <li key={prefix}>
                  <button
                    type="button"
                    className="link"
                    onClick={() => open(prefix)}
                    aria-current={prefix === folder || undefined}
                  >
                    {name}
                  </button>
                </li>
              );
            })}
          </ol>
        </nav>
      )}
      <div className="toolbar">
        <div className="filter">
          <label htmlFor={filterId} className="visually-hidden">
            Filter by prefix
          </label>
          <input
            id={filterId}
            type="search"
            placeholder={`Filter ${folder || `${bucket}/`}…`}
            value={filter}
            onChange={(e) => {
              setFilter(e.target.value);
              setCursors([null]);
              setSelected(new Set());
            }}
          />
        </div>
        {can.write && <UploadPickers onPick={upload} />}
        {can.write && selected.size > 0 && (
          <button
            type="button"
            className="danger"
            onClick={() => setPending({ kind: 'selection', keys: [...selected] })}
          >
            Delete selected ({selected.size})
          </button>
        )}
      </div>
      {dragging && <p className="drop-hint">Drop to upload into {folder || `${bucket}/`}</p>}
      {listing && (
        <ObjectTable
          listing={listing}
          folder={folder}
          selectable={can.write}
          selected={selected}
          onSelect={setSelected}
          onOpenFolder={open}
          onOpenObject={setDetails}
          onDeleteFolder={can.write ? (prefix) => setPending({ kind: 'folder', prefix }) : undefined}
        />
      )}
      {loading && !listing && <p className="muted">Loading…</p>}
      {data && data.bucket === null && (
        <p className="notice notice-error" role="alert">
          {SENTENCES.NO_SUCH_BUCKET}
        </p>
      )}
      <footer className="pager">
        <button
          type="button"
          disabled={cursors.length < 2}
          onClick={() => {
            setCursors(cursors.slice(0, -1));
            setSelected(new Set());
          }}
        >
          Previous page
        </button>
        <span className="muted">Page {cursors.length}</span>
        <button
          type="button"
          disabled={!listing?.pageInfo.hasNextPage}
          onClick={() => {
            setCursors([...cursors, listing!.pageInfo.endCursor]);
            setSelected(new Set());
          }}
        >
          Next page
        </button>
        <span className="page-size">
          <label htmlFor={sizeId}>Per page</label>
          <select
            id={sizeId}
            value={pageSize}
            onChange={(e) => {
              setPageSize(Number(e.target.value));
              setCursors([null]);
            }}
          >
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </span>
      </footer>
      {details !== null && (
        <Details
          bucket={bucket}
          objectKey={details}
          canWrite={can.write}
          onClose={() => setDetails(null)}
          onChanged={() => refetch().catch(() => undefined)}
        />
      )}
      {pending && (
        <Confirm
          title={
            pending.kind === 'bucket'
              ? `Delete bucket ${bucket}?`
              : pending.kind === 'folder'
                ? `Delete folder ${baseName(pending.prefix)}?`
                : `Delete ${pending.keys.length} object${pending.keys.length === 1 ? '' : 's'}?`
          }
          action="Delete"
          {...(pending.kind === 'bucket' && { typeToConfirm: bucket })}
          onConfirm={() => confirmDelete(pending)}
          onClose={() => setPending(null)}
        >
          {pending.kind === 'bucket' && <p>Every object in it and every open upload are deleted with it.</p>}
          {pending.kind === 'folder' && <p>Every object whose key starts with {pending.prefix} is deleted.</p>}
          {pending.kind === 'selection' && (
            <ul className="key-list">
              {pending.keys.slice(0, 10).map((key) => (
                <li key={key}>{key}</li>
              ))}
              {pending.keys.length > 10 && <li>and {pending.keys.length - 10} more</li>}
            </ul>
          )}
          <p>This cannot be undone.</p>
        </Confirm>
      )}
    </div>
  );
}
