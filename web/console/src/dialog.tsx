/** Modal dialogs on <dialog>: focus kept inside, Escape closes, the title names it for screen readers. */
import { type ReactNode, useEffect, useId, useRef, useState } from 'react';

export function Modal(props: { title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  return (
    <dialog
      ref={ref}
      className={props.wide ? 'modal modal-wide' : 'modal'}
      aria-labelledby={titleId}
      onClose={props.onClose}
      onCancel={(event) => {
        event.preventDefault();
        props.onClose();
      }}
    >
      <header className="modal-header">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" className="icon" aria-label="Close" onClick={props.onClose}>
          ×
        </button>
      </header>
      {props.children}
    </dialog>
  );
}

/**
 * Asks before something that cannot be undone. With `typeToConfirm`, the
 * button is enabled only once that text is typed (a bucket's name before
 * deleting it with everything in it).
 */
export function Confirm(props: {
  title: string;
  children: ReactNode;
  action: string;
  typeToConfirm?: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const inputId = useId();
  const ready = props.typeToConfirm === undefined || typed === props.typeToConfirm;
  return (
    <Modal title={props.title} onClose={props.onClose}>
      <form
        className="modal-body"
        onSubmit={(event) => {
          event.preventDefault();
          if (!ready || busy) return;
          setBusy(true);
          props.onConfirm().finally(() => setBusy(false));
        }}
      >
        <div className="prose">{props.children}</div>
        {props.typeToConfirm !== undefined && (
          <p className="field">
            <label htmlFor={inputId}>
              Type <strong>{props.typeToConfirm}</strong> to confirm
            </label>
            <input
              id={inputId}
              value={typed}
              onChange={(e) => setTyped(e.target.value)}
              autoComplete="off"
              spellCheck={false}
            />
          </p>
        )}
        <div className="actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="danger" disabled={!ready || busy}>
            {busy ? 'Working…' : props.action}
          </button>
        </div>
      </form>
    </Modal>
  );
}
