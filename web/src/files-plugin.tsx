/**
 * The Files panel: pick files and bind each to an `Upload` variable of the
 * operation (`file`, `files.0`); the fetcher then sends them as a GraphQL
 * multipart request.
 */
import type { GraphiQLProps } from 'graphiql';
import { createContext, type Dispatch, type SetStateAction, useContext } from 'react';

type GraphiQLPlugin = NonNullable<GraphiQLProps['plugins']>[number];

/** One row of the panel: a variable path and the file picked for it, if any. */
export interface FileRow {
  id: number;
  path: string;
  file: File | null;
}

/** Variable paths as the multipart spec's `map` takes them, after `variables.`: names and list indexes. */
export const VARIABLE_PATH = /^[_A-Za-z][_0-9A-Za-z]*(\.([_A-Za-z][_0-9A-Za-z]*|\d+))*$/;

export const FilesContext = createContext<[FileRow[], Dispatch<SetStateAction<FileRow[]>>] | null>(null);

let nextId = 1;
export const newRow = (path: string): FileRow => ({ id: nextId++, path, file: null });

const sizeOf = (bytes: number) =>
  bytes < 1024
    ? `${bytes} B`
    : bytes < 1024 ** 2
      ? `${(bytes / 1024).toFixed(1)} KiB`
      : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

function FilesPanel() {
  const state = useContext(FilesContext);
  if (!state) return null;
  const [rows, setRows] = state;
  const update = (id: number, change: Partial<FileRow>) =>
    setRows((all) => all.map((row) => (row.id === id ? { ...row, ...change } : row)));
  const nextPath = () => {
    const taken = new Set(rows.map((r) => r.path));
    if (!taken.has('file')) return 'file';
    let i = 0;
    while (taken.has(`files.${i}`)) i++;
    return `files.${i}`;
  };

  return (
    <div className="s3g-files">
      <div className="graphiql-doc-explorer-title">Files</div>
      <p>
        Bind a file to each <code>Upload</code> variable of the operation, by its path: <code>file</code> for{' '}
        <code>$file: Upload!</code>, <code>files.0</code> for the first of <code>$files: [Upload!]!</code>. Running the
        operation then sends a multipart request (with the <code>x-graphql-csrf</code> header) carrying the files;
        operations that declare none of these variables go as JSON.
      </p>
      <ul>
        {rows.map((row) => {
          const valid = VARIABLE_PATH.test(row.path);
          return (
            <li key={row.id}>
              <label>
                Variable
                <input
                  type="text"
                  value={row.path}
                  aria-label="Variable path"
                  aria-invalid={!valid}
                  spellCheck={false}
                  onChange={(e) => update(row.id, { path: e.target.value.trim() })}
                />
              </label>
              <label>
                File
                <input
                  type="file"
                  aria-label={`File for ${row.path}`}
                  onChange={(e) => update(row.id, { file: e.target.files?.[0] ?? null })}
                />
              </label>
              <div className="s3g-files-row">
                <span>{row.file ? `${row.file.name}, ${sizeOf(row.file.size)}` : 'no file picked'}</span>
                <button
                  type="button"
                  className="graphiql-button"
                  onClick={() => setRows((all) => all.filter((r) => r.id !== row.id))}
                >
                  Remove
                </button>
              </div>
              {!valid && <p className="s3g-files-error">A path is a variable name, then .name or .index parts.</p>}
            </li>
          );
        })}
      </ul>
      <button type="button" className="graphiql-button" onClick={() => setRows((all) => [...all, newRow(nextPath())])}>
        Add a file
      </button>
    </div>
  );
}

function FilesIcon() {
  return (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden="true">
      <path d="M21 11.5 12.5 20a5 5 0 0 1-7-7L14 4.5a3.3 3.3 0 0 1 4.7 4.7L10.2 17.7a1.7 1.7 0 0 1-2.4-2.4L15.5 7.6" />
    </svg>
  );
}

export const FILES_PLUGIN: GraphiQLPlugin = { title: 'Files', icon: FilesIcon, content: FilesPanel };
