import { cloneElement, isValidElement, toChildArray, type ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { describe, fetchImage } from './api';

/** Hash routes: #/apps/my-app/inputs → ['apps', 'my-app', 'inputs']. */
export function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function href(...parts: string[]): string {
  return '#/' + parts.map(encodeURIComponent).join('/');
}

export function go(...parts: string[]): void {
  location.hash = href(...parts);
}

/** A message for screen readers and eyes: errors as alerts, the rest as polite status. */
export function Notice({ error, children }: { error?: unknown; children?: ComponentChildren }) {
  if (error) {
    return (
      <p class="notice error" role="alert">
        {describe(error)}
      </p>
    );
  }
  return children ? (
    <p class="notice" role="status">
      {children}
    </p>
  ) : null;
}

/** Runs an async loader on mount and when deps change; returns [value, error, reload]. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): [T | undefined, unknown, () => void] {
  const [value, setValue] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setError(undefined);
    load(controller.signal).then(
      (v) => !controller.signal.aborted && setValue(v),
      (e) => !controller.signal.aborted && setError(e),
    );
    return () => controller.abort();
  }, [...deps, tick]);
  return [value, error, () => setTick((t) => t + 1)];
}

// One observer for every lazily loaded image on the page (a grid may hold 1,000), rather than one each.
const watchers = new Map<Element, () => void>();
let sharedObserver: IntersectionObserver | undefined;

function whenNearScreen(element: Element, callback: () => void): () => void {
  sharedObserver ??= new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        const run = watchers.get(entry.target);
        watchers.delete(entry.target);
        sharedObserver!.unobserve(entry.target);
        run?.();
      }
    },
    { rootMargin: '200px' },
  );
  watchers.set(element, callback);
  sharedObserver.observe(element);
  return () => {
    watchers.delete(element);
    sharedObserver?.unobserve(element);
  };
}

/**
 * An image behind the API's credentials, loaded only when it scrolls near the screen and shown as a blob: URL;
 * released when it leaves the page.
 */
export function AuthImage({ path, alt, class: className, onSize }: { path: string | null; alt: string; class?: string; onSize?: (w: number, h: number) => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const [url, setUrl] = useState<string>();
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (!path || !ref.current) return;
    const controller = new AbortController();
    let objectUrl: string | undefined;
    const stop = whenNearScreen(ref.current, () => {
      fetchImage(path, controller.signal).then(
        (blob) => {
          if (controller.signal.aborted) return;
          objectUrl = URL.createObjectURL(blob);
          setUrl(objectUrl);
        },
        () => !controller.signal.aborted && setFailed(true),
      );
    });
    return () => {
      stop();
      controller.abort();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [path]);
  return (
    <div ref={ref} class={'auth-image ' + (className ?? '')} data-loaded={url ? 'true' : 'false'}>
      {url ? (
        <img src={url} alt={alt} onLoad={(e) => onSize?.((e.target as HTMLImageElement).naturalWidth, (e.target as HTMLImageElement).naturalHeight)} />
      ) : (
        <span class="placeholder" aria-label={failed ? `${alt}: image unavailable` : `${alt}: loading`}>
          {failed ? '×' : ''}
        </span>
      )}
    </div>
  );
}

/** Files picked, dropped (files and whole folders, recursively) or chosen as a folder. */
export interface PickedFile {
  file: File;
  /** Folder path inside what was dropped, '' at the top. */
  folder: string;
}

async function readEntry(entry: FileSystemEntry, folder: string, out: PickedFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ file, folder });
  } else if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    const sub = folder ? `${folder}/${entry.name}` : entry.name;
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const child of batch) await readEntry(child, sub, out);
    }
  }
}

export async function filesFromDrop(transfer: DataTransfer): Promise<PickedFile[]> {
  const out: PickedFile[] = [];
  const entries = Array.from(transfer.items)
    .map((item) => (item.kind === 'file' ? item.webkitGetAsEntry() : null))
    .filter((e): e is FileSystemEntry => e !== null);
  if (entries.length > 0) {
    for (const entry of entries) await readEntry(entry, '', out);
  } else {
    for (const file of Array.from(transfer.files)) out.push({ file, folder: '' });
  }
  return out;
}

export function filesFromInput(input: HTMLInputElement): PickedFile[] {
  return Array.from(input.files ?? []).map((file) => {
    const relative = file.webkitRelativePath || file.name;
    const slash = relative.lastIndexOf('/');
    return { file, folder: slash > 0 ? relative.slice(0, slash) : '' };
  });
}

/** A drop target that is also a keyboard-reachable file (and optionally folder) picker. */
export function DropZone({ label, onFiles, folders, multiple, accept = 'image/*', testId }: { label: string; onFiles: (files: PickedFile[]) => void; folders?: boolean; multiple?: boolean; accept?: string; testId?: string }) {
  const [over, setOver] = useState(false);
  const fileRef = useRef<HTMLInputElement>(null);
  const folderRef = useRef<HTMLInputElement>(null);
  // Set as an attribute: a folder chooser (the property alone is not reflected by every renderer).
  useEffect(() => folderRef.current?.setAttribute('webkitdirectory', ''), [folders]);
  return (
    <div
      class={'dropzone' + (over ? ' over' : '')}
      data-testid={testId}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={async (e) => {
        e.preventDefault();
        setOver(false);
        if (e.dataTransfer) onFiles(await filesFromDrop(e.dataTransfer));
      }}
    >
      <p>{label}</p>
      <div class="row">
        <button type="button" onClick={() => fileRef.current?.click()}>
          Choose {multiple ? 'files' : 'a file'}
        </button>
        {folders && (
          <button type="button" onClick={() => folderRef.current?.click()}>
            Choose a folder
          </button>
        )}
      </div>
      <input
        ref={fileRef}
        class="visually-hidden"
        type="file"
        accept={accept}
        multiple={multiple}
        aria-label={multiple ? 'Files' : 'File'}
        tabIndex={-1}
        onChange={(e) => {
          onFiles(filesFromInput(e.currentTarget));
          e.currentTarget.value = '';
        }}
      />
      {folders && (
        <input
          ref={folderRef}
          class="visually-hidden"
          type="file"
          multiple
          aria-label="Folder"
          tabIndex={-1}
          onChange={(e) => {
            onFiles(filesFromInput(e.currentTarget));
            e.currentTarget.value = '';
          }}
        />
      )}
    </div>
  );
}

/** A labelled control: the label names the control by `for`/`id` (its accessible name is the label alone), the hint describes it. */
export function Field({ label, children, hint }: { label: string; children: ComponentChildren; hint?: string }) {
  const id = useId();
  const [control, ...rest] = toChildArray(children);
  const labelled = isValidElement(control) ? cloneElement(control, { id, 'aria-describedby': hint ? `${id}-hint` : undefined } as Record<string, unknown>) : control;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {labelled}
      {rest}
      {hint && <small id={`${id}-hint`}>{hint}</small>}
    </div>
  );
}

export function Concepts({ concepts, label }: { concepts?: { id?: string; name?: string; value?: number }[]; label: string }) {
  if (!concepts || concepts.length === 0) return null;
  return (
    <ul class="concepts" aria-label={label}>
      {concepts.map((c) => (
        <li key={c.id}>
          <span class="name">{c.name || c.id}</span>
          <span class="bar" aria-hidden="true">
            <span style={{ width: `${Math.round((c.value ?? 0) * 100)}%` }} />
          </span>
          <span class="value">{(c.value ?? 0).toFixed(3)}</span>
        </li>
      ))}
    </ul>
  );
}
