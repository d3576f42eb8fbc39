/** One page of a listing: its folders first, then its objects, sorted within the page by a column. */
import { useState } from 'react';
import { baseName, formatDate, formatSize } from './format';
import type { Listing, ObjectRow } from './operations';

type Column = 'name' | 'size' | 'lastModified';
interface Sort {
  column: Column;
  ascending: boolean;
}

const compare: Record<Column, (a: ObjectRow, b: ObjectRow) => number> = {
  name: (a, b) => a.key.localeCompare(b.key),
  size: (a, b) => a.size - b.size,
  lastModified: (a, b) => a.lastModified.localeCompare(b.lastModified),
};

const LABELS: Record<Column, string> = { name: 'Name', size: 'Size', lastModified: 'Last modified' };

export function ObjectTable(props: {
  listing: Listing;
  folder: string;
  selectable: boolean;
  selected: Set<string>;
  onSelect: (selected: Set<string>) => void;
  onOpenFolder: (prefix: string) => void;
  onOpenObject: (key: string) => void;
  onDeleteFolder: ((prefix: string) => void) | undefined;
}) {
  const [sort, setSort] = useState<Sort>({ column: 'name', ascending: true });
  const objects = props.listing.edges.map((e) => e.node).sort(compare[sort.column]);
  if (!sort.ascending) objects.reverse();
  const prefixes = [...props.listing.prefixes].sort();
  if (!sort.ascending && sort.column === 'name') prefixes.reverse();
  const allSelected = objects.length > 0 && objects.every((o) => props.selected.has(o.key));

  const toggle = (key: string) => {
    const next = new Set(props.selected);
    if (next.has(key)) next.delete(key);
    else next.add(key);
    props.onSelect(next);
  };

  const header = (column: Column) => (
    <th
      scope="col"
      className={`col-${column}`}
      aria-sort={sort.column === column ? (sort.ascending ? 'ascending' : 'descending') : 'none'}
    >
      <button
        type="button"
        className="sort"
        onClick={() => setSort({ column, ascending: sort.column === column ? !sort.ascending : true })}
      >
        {LABELS[column]}
        <span aria-hidden="true">{sort.column === column ? (sort.ascending ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );

  if (prefixes.length === 0 && objects.length === 0)
    return <p className="empty">{props.folder === '' ? 'This bucket is empty.' : 'Nothing here.'}</p>;
  return (
    <table className="objects">
      <thead>
        <tr>
          {props.selectable && (
            <th scope="col" className="col-select">
              <input
                type="checkbox"
                aria-label="Select every object on this page"
                checked={allSelected}
                onChange={() => props.onSelect(allSelected ? new Set() : new Set(objects.map((o) => o.key)))}
              />
            </th>
          )}
          {header('name')}
          {header('size')}
          {header('lastModified')}
        </tr>
      </thead>
      <tbody>
        {prefixes.map((prefix) => (
          <tr key={prefix} className="folder-row">
            {props.selectable && <td className="col-select" />}
            <td className="col-name">
              <button type="button" className="link name" onClick={() => props.onOpenFolder(prefix)}>
                <span className="icon-folder" aria-hidden="true" />
                {baseName(prefix)}
              </button>
              {props.onDeleteFolder && (
                <button
                  type="button"
                  className="link danger-link row-action"
                  aria-label={`Delete folder ${baseName(prefix)}`}
                  onClick={() => props.onDeleteFolder?.(prefix)}
                >
                  Delete
                </button>
              )}
            </td>
            <td className="col-size muted">Folder</td>
            <td className="col-lastModified" />
          </tr>
        ))}
        {objects.map((o) => (
          <tr key={o.key} aria-selected={props.selectable ? props.selected.has(o.key) : undefined}>
            {props.selectable && (
              <td className="col-select">
                <input
                  type="checkbox"
                  aria-label={`Select ${baseName(o.key)}`}
                  checked={props.selected.has(o.key)}
                  onChange={() => toggle(o.key)}
                />
              </td>
            )}
            <td className="col-name">
              <button type="button" className="link name" onClick={() => props.onOpenObject(o.key)}>
                <span className="icon-file" aria-hidden="true" />
                {baseName(o.key)}
              </button>
              <span className="sub muted">
                {formatSize(o.size)} · {formatDate(o.lastModified)}
              </span>
            </td>
            <td className="col-size">{formatSize(o.size)}</td>
            <td className="col-lastModified">{formatDate(o.lastModified)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
