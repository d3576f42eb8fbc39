/**
 * The uploads of this tab: a queue sent UPLOAD_CONCURRENCY files at a time
 * (uploads.ts), and its panel with each file's progress, the overall
 * progress, and a cancel button per file.
 */
import { useApolloClient } from '@apollo/client/react';
import { createContext, type ReactNode, useCallback, useContext, useMemo, useRef, useState } from 'react';
import { messageOf } from './errors';
import { formatSize } from './format';
import { uploadFile } from './uploads';

const UPLOAD_CONCURRENCY = 3;

type Status = 'queued' | 'sending' | 'done' | 'failed' | 'cancelled';

interface Item {
  id: number;
  bucket: string;
  key: string;
  file: File;
  loaded: number;
  status: Status;
  error?: string;
  controller: AbortController;
}

interface Uploads {
  enqueue(bucket: string, files: { key: string; file: File }[]): void;
  /** Counts finished uploads: a listing reloads when it changes. */
  finished: number;
}

const UploadsContext = createContext<Uploads>({ enqueue: () => undefined, finished: 0 });

export const useUploads = () => useContext(UploadsContext);

export function UploadsProvider({ children }: { children: ReactNode }) {
  const client = useApolloClient();
  const [items, setItems] = useState<Item[]>([]);
  const [finished, setFinished] = useState(0);
  const queue = useRef<Item[]>([]);
  const running = useRef(0);
  const nextId = useRef(1);

  const update = useCallback((id: number, change: Partial<Item>) => {
    setItems((all) => all.map((item) => (item.id === id ? { ...item, ...change } : item)));
  }, []);

  const pump = useCallback(() => {
    while (running.current < UPLOAD_CONCURRENCY && queue.current.length > 0) {
      const item = queue.current.shift()!;
      if (item.controller.signal.aborted) continue;
      running.current += 1;
      update(item.id, { status: 'sending' });
      uploadFile(client, {
        bucket: item.bucket,
        key: item.key,
        file: item.file,
        signal: item.controller.signal,
        onProgress: (loaded) => update(item.id, { loaded: Math.min(loaded, item.file.size) }),
      })
        .then(
          () => {
            update(item.id, { status: 'done', loaded: item.file.size });
            setFinished((n) => n + 1);
          },
          (err: unknown) =>
            update(
              item.id,
              item.controller.signal.aborted ? { status: 'cancelled' } : { status: 'failed', error: messageOf(err) },
            ),
        )
        .finally(() => {
          running.current -= 1;
          pump();
        });
    }
  }, [client, update]);

  const enqueue = useCallback(
    (bucket: string, files: { key: string; file: File }[]) => {
      const added = files.map(({ key, file }) => ({
        id: nextId.current++,
        bucket,
        key,
        file,
        loaded: 0,
        status: 'queued' as const,
        controller: new AbortController(),
      }));
      queue.current.push(...added);
      setItems((all) => [...all, ...added]);
      pump();
    },
    [pump],
  );

  const value = useMemo(() => ({ enqueue, finished }), [enqueue, finished]);
  return (
    <UploadsContext.Provider value={value}>
      {children}
      <UploadsPanel
        items={items}
        onCancel={(item) => {
          item.controller.abort();
          if (item.status === 'queued') update(item.id, { status: 'cancelled' });
        }}
        onClear={() => setItems((all) => all.filter((i) => i.status === 'queued' || i.status === 'sending'))}
      />
    </UploadsContext.Provider>
  );
}

const percent = (loaded: number, size: number) => (size === 0 ? 100 : Math.floor((loaded / size) * 100));

const STATUS_TEXT: Record<Status, string> = {
  queued: 'Waiting',
  sending: 'Sending',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

function UploadsPanel(props: { items: Item[]; onCancel: (item: Item) => void; onClear: () => void }) {
  const [collapsed, setCollapsed] = useState(false);
  if (props.items.length === 0) return null;
  const total = props.items.reduce((sum, i) => sum + i.file.size, 0);
  const loaded = props.items.reduce((sum, i) => sum + (i.status === 'done' ? i.file.size : i.loaded), 0);
  const active = props.items.filter((i) => i.status === 'queued' || i.status === 'sending').length;
  return (
    <section className="uploads" aria-label="Uploads">
      <header className="uploads-header">
        <h2>{active > 0 ? `Uploading ${active} file${active === 1 ? '' : 's'}` : 'Uploads'}</h2>
        <progress aria-label="Overall upload progress" max={100} value={percent(loaded, total)} />
        <button type="button" className="link" onClick={() => setCollapsed(!collapsed)} aria-expanded={!collapsed}>
          {collapsed ? 'Show' : 'Hide'}
        </button>
        {active < props.items.length && (
          <button type="button" className="link" onClick={props.onClear}>
            Clear finished
          </button>
        )}
      </header>
      {!collapsed && (
        <ul className="upload-list">
          {props.items.map((item) => (
            <li key={item.id} className={`upload upload-${item.status}`}>
              <span className="upload-name" title={`${item.bucket}/${item.key}`}>
                {item.key}
              </span>
              <progress
                aria-label={`Upload progress of ${item.key}`}
                max={100}
                value={item.status === 'done' ? 100 : percent(item.loaded, item.file.size)}
              />
              <span className="upload-status">
                {item.status === 'sending'
                  ? `${formatSize(item.loaded)} of ${formatSize(item.file.size)}`
                  : (item.error ?? STATUS_TEXT[item.status])}
              </span>
              {(item.status === 'queued' || item.status === 'sending') && (
                <button
                  type="button"
                  className="link"
                  aria-label={`Cancel upload of ${item.key}`}
                  onClick={() => props.onCancel(item)}
                >
                  Cancel
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
