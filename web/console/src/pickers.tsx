/**
 * Choosing files to upload: a file picker, a folder picker (webkitdirectory:
 * every file with its path inside the folder), and drag-and-drop of files
 * and folders (folders read entry by entry).
 */
import { useId } from 'react';

/** A file and the path it is uploaded under, relative to the open folder. */
export interface Picked {
  path: string;
  file: File;
}

const fromList = (files: FileList | null): Picked[] =>
  [...(files ?? [])].map((file) => ({ path: file.webkitRelativePath || file.name, file }));

export function UploadPickers(props: { onPick: (picked: Picked[]) => void }) {
  const filesId = useId();
  const folderId = useId();
  const pick = (event: React.ChangeEvent<HTMLInputElement>) => {
    props.onPick(fromList(event.target.files));
    event.target.value = '';
  };
  return (
    <>
      <input id={filesId} className="visually-hidden" type="file" multiple onChange={pick} />
      <label htmlFor={filesId} className="button primary">
        Upload files
      </label>
      <input
        id={folderId}
        className="visually-hidden"
        type="file"
        onChange={pick}
        ref={(input) => {
          // React has no prop for it; the attribute makes the picker choose a folder.
          input?.setAttribute('webkitdirectory', '');
        }}
      />
      <label htmlFor={folderId} className="button">
        Upload folder
      </label>
    </>
  );
}

function readAll(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => {
    const entries: FileSystemEntry[] = [];
    // readEntries gives a batch at a time, then an empty one.
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(entries);
        else {
          entries.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

async function walk(entry: FileSystemEntry, into: Picked[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    into.push({ path: entry.fullPath.replace(/^\//, ''), file });
    return;
  }
  if (entry.isDirectory) {
    for (const child of await readAll((entry as FileSystemDirectoryEntry).createReader())) await walk(child, into);
  }
}

/** The files dropped, folders included (their paths kept). */
export async function droppedFiles(transfer: DataTransfer): Promise<Picked[]> {
  const entries = [...transfer.items]
    .filter((item) => item.kind === 'file')
    .map((item) => item.webkitGetAsEntry())
    .filter((entry): entry is FileSystemEntry => entry !== null);
  if (entries.length === 0) return fromList(transfer.files);
  const picked: Picked[] = [];
  for (const entry of entries) await walk(entry, picked);
  return picked;
}
