/** One message at a time at the top of the console: errors as alerts, confirmations as status. */
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';
import { messageOf } from './errors';

interface Notice {
  kind: 'error' | 'info';
  text: string;
}

interface Notices {
  info(text: string): void;
  /** Shows what went wrong, in words (see errors.ts). */
  error(error: unknown): void;
}

const NoticesContext = createContext<Notices>({ info: () => undefined, error: () => undefined });

export const useNotices = () => useContext(NoticesContext);

export function NoticesProvider({ children }: { children: ReactNode }) {
  const [notice, setNotice] = useState<Notice | null>(null);
  const info = useCallback((text: string) => setNotice({ kind: 'info', text }), []);
  const error = useCallback((err: unknown) => setNotice({ kind: 'error', text: messageOf(err) }), []);
  const value = useMemo(() => ({ info, error }), [info, error]);
  // A popover is in the top layer: shown again for each notice, it is above any dialog open at the time.
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    if (element.matches(':popover-open')) element.hidePopover();
    if (notice) element.showPopover();
  }, [notice]);
  return (
    <NoticesContext.Provider value={value}>
      <div className="notices" popover="manual" ref={ref}>
        <div role="alert">
          {notice?.kind === 'error' && (
            <p className="notice notice-error">
              <span>{notice.text}</span>
              <button type="button" className="link" onClick={() => setNotice(null)} aria-label="Dismiss message">
                ×
              </button>
            </p>
          )}
        </div>
        <div role="status">
          {notice?.kind === 'info' && (
            <p className="notice notice-info">
              <span>{notice.text}</span>
              <button type="button" className="link" onClick={() => setNotice(null)} aria-label="Dismiss message">
                ×
              </button>
            </p>
          )}
        </div>
      </div>
      {children}
    </NoticesContext.Provider>
  );
}
