/**
 * GraphiQL as the server serves it on `GET /graphql`: built from this folder
 * by `npm run build:web` (scripts/build-web.mjs), every script, style, font
 * and editor worker from the server itself. The server writes the options
 * (endpoint, example query) into the page as JSON.
 */
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import './style.css';
import { GraphiQL, HISTORY_PLUGIN } from 'graphiql';
import { StrictMode, useMemo, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { createFetcher, type FileBinding } from './fetcher';
import { FILES_PLUGIN, FilesContext, type FileRow, newRow, VARIABLE_PATH } from './files-plugin';

interface PageOptions {
  endpoint: string;
  defaultQuery: string;
}

const options = JSON.parse(document.getElementById('graphiql-options')?.textContent ?? '{}') as Partial<PageOptions>;
const endpoint = options.endpoint ?? '/graphql';

// Passing plugins replaces GraphiQL's default list, the history.
const PLUGINS = [HISTORY_PLUGIN, FILES_PLUGIN];

function App() {
  const files = useState<FileRow[]>(() => [newRow('file')]);
  const current = useRef(files[0]);
  current.current = files[0];
  const fetcher = useMemo(
    () =>
      createFetcher(endpoint, () =>
        current.current.filter(
          (row): row is FileBinding & FileRow => row.file !== null && VARIABLE_PATH.test(row.path),
        ),
      ),
    [],
  );
  return (
    <FilesContext.Provider value={files}>
      <GraphiQL fetcher={fetcher} defaultQuery={options.defaultQuery} plugins={PLUGINS} />
    </FilesContext.Provider>
  );
}

createRoot(document.getElementById('graphiql')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
