/**
 * Inline previews of images, text, PDF, audio and video, from `/objects/…`
 * (which serves every object with nosniff and a sandboxing policy). With an
 * API key the browser cannot add the Authorization header to an <img> or
 * <video>, so the bytes are fetched with it into a blob: URL instead (up to
 * BLOB_LIMIT); text is read from its first TEXT_LIMIT bytes only.
 */
import { useEffect, useState } from 'react';
import { authHeaders, token } from './api';
import { httpError, messageOf } from './errors';
import { formatSize } from './format';

const TEXT_LIMIT = 256 * 1024;
const BLOB_LIMIT = 64 * 1024 * 1024;

type Kind = 'image' | 'text' | 'pdf' | 'audio' | 'video';

const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-yaml|yaml|x-sh|toml|csv|x-ndjson)\b)|\+(json|xml)\b/;
const EXTENSIONS: Record<string, Kind> = {
  png: 'image',
  jpg: 'image',
  jpeg: 'image',
  gif: 'image',
  webp: 'image',
  avif: 'image',
  svg: 'image',
  txt: 'text',
  md: 'text',
  json: 'text',
  csv: 'text',
  log: 'text',
  yaml: 'text',
  yml: 'text',
  xml: 'text',
  html: 'text',
  ts: 'text',
  js: 'text',
  pdf: 'pdf',
  mp3: 'audio',
  wav: 'audio',
  ogg: 'audio',
  mp4: 'video',
  webm: 'video',
};

/** What the object can be shown as, by its stored type, else by its name's extension. */
export function kindOf(contentType: string | null, key: string): Kind | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type.startsWith('image/')) return 'image';
  if (type.startsWith('audio/')) return 'audio';
  if (type.startsWith('video/')) return 'video';
  if (type === 'application/pdf') return 'pdf';
  if (TEXT_TYPES.test(type)) return 'text';
  if (type !== '' && type !== 'application/octet-stream' && type !== 'binary/octet-stream') return undefined;
  return EXTENSIONS[key.slice(key.lastIndexOf('.') + 1).toLowerCase()];
}

/** The blob type a preview is shown with: only the kinds below, never HTML, which would run in this page's origin. */
const BLOB_TYPES: Record<Exclude<Kind, 'text'>, (type: string) => string> = {
  image: (type) => (type.startsWith('image/') ? type : 'image/png'),
  audio: (type) => (type.startsWith('audio/') ? type : 'audio/mpeg'),
  video: (type) => (type.startsWith('video/') ? type : 'video/mp4'),
  pdf: () => 'application/pdf',
};

type Loaded =
  | { state: 'loading' }
  | { state: 'failed'; message: string }
  | { state: 'ready'; src?: string; text?: string };

export function Preview(props: { path: string; kind: Kind; contentType: string | null; size: number; name: string }) {
  const { path, kind, size } = props;
  const type = (props.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  // Without a key, media stream straight from /objects; a PDF always goes through a blob (Chrome's viewer refuses a sandboxed frame).
  const direct = token.get() === null && kind !== 'pdf' && kind !== 'text';
  const [loaded, setLoaded] = useState<Loaded>(direct ? { state: 'ready', src: path } : { state: 'loading' });

  useEffect(() => {
    if (direct) return;
    if (kind !== 'text' && size > BLOB_LIMIT) {
      setLoaded({ state: 'failed', message: `Too large to preview here (${formatSize(size)}): download it instead.` });
      return;
    }
    const controller = new AbortController();
    let url: string | undefined;
    (async () => {
      const headers: Record<string, string> = { ...authHeaders() };
      if (kind === 'text') headers.range = `bytes=0-${TEXT_LIMIT - 1}`;
      const res = await fetch(path, { headers, signal: controller.signal });
      if (!res.ok) throw await httpError(res);
      if (kind === 'text') {
        const text = new TextDecoder().decode(await res.arrayBuffer());
        setLoaded({ state: 'ready', text });
        return;
      }
      const blob = new Blob([await res.arrayBuffer()], { type: BLOB_TYPES[kind](type) });
      url = URL.createObjectURL(blob);
      setLoaded({ state: 'ready', src: url });
    })().catch((err: unknown) => {
      if (!controller.signal.aborted) setLoaded({ state: 'failed', message: messageOf(err) });
    });
    return () => {
      controller.abort();
      if (url) URL.revokeObjectURL(url);
    };
  }, [direct, path, kind, size, type]);

  if (loaded.state === 'loading') return <p className="muted">Loading preview…</p>;
  if (loaded.state === 'failed') return <p className="notice notice-error">{loaded.message}</p>;
  switch (kind) {
    case 'image':
      return <img className="preview-media" src={loaded.src} alt={`Preview of ${props.name}`} />;
    case 'audio':
      // biome-ignore lint/a11y/useMediaCaption: stored files come without captions.
      return <audio className="preview-media" src={loaded.src} controls aria-label={`Preview of ${props.name}`} />;
    case 'video':
      // biome-ignore lint/a11y/useMediaCaption: stored files come without captions.
      return <video className="preview-media" src={loaded.src} controls aria-label={`Preview of ${props.name}`} />;
    case 'pdf':
      return <iframe className="preview-pdf" src={loaded.src} title={`Preview of ${props.name}`} />;
    case 'text':
      return (
        <>
          <section aria-label={`Preview of ${props.name}`}>
            <pre className="preview-text">{loaded.text}</pre>
          </section>
          {size > TEXT_LIMIT && <p className="muted">The first {formatSize(TEXT_LIMIT)} are shown.</p>}
        </>
      );
  }
}
