import { useEffect, useRef, useState } from 'preact/hooks';
import { api, appPath, describe, fileToBase64, hostedUrl, inputState, postWithProgress, statusName, type HostedImage } from '../api';
import { AuthImage, DropZone, href, Notice, useLoad, type PickedFile } from '../components';

export interface Input {
  id: string;
  created_at?: string;
  status?: { code: number; description?: string; details?: string };
  data?: {
    image?: { url?: string; hosted?: HostedImage; image_info?: { width?: number; height?: number } };
    concepts?: { id: string; name?: string; value?: number }[];
    metadata?: Record<string, unknown>;
  };
  dataset_ids?: string[];
}

const PAGE_SIZES = [48, 100, 500, 1000];

/** Page size from the address (#/apps/a/inputs?per_page=1000), else 48. */
function initialPageSize(): number {
  const query = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const n = Number(query.get('per_page'));
  return PAGE_SIZES.includes(n) ? n : PAGE_SIZES[0];
}

/** A grid cell: the thumbnail (loaded when it scrolls into view), the id and the processing status. */
export function InputCard({ app, input, score }: { app: string; input: Input; score?: number }) {
  const state = inputState(input.status?.code);
  return (
    <li class="card-input" data-status={state}>
      <a href={href('apps', app, 'inputs', input.id)} aria-label={`Input ${input.id}, ${state}`}>
        <AuthImage path={hostedUrl(input.data?.image?.hosted, 'small')} alt={`Input ${input.id}`} class="thumb" />
        <span class="input-id">{input.id}</span>
      </a>
      <span class={'badge ' + state.replace(' ', '-')} title={input.status ? `${input.status.code} ${input.status.description ?? ''} ${input.status.details ?? ''}` : undefined}>
        {state}
      </span>
      {score !== undefined && <span class="score">score {score.toFixed(3)}</span>}
    </li>
  );
}

interface Upload {
  key: string;
  name: string;
  folder: string;
  progress: number;
  state: 'queued' | 'uploading' | 'processing' | 'success' | 'failed';
  inputId?: string;
  message?: string;
}

/** Concept ids from a folder name: the last folder, lower case, other characters as '-'. */
export function conceptFromFolder(folder: string): string | undefined {
  const last = folder.split('/').filter(Boolean).pop();
  if (!last) return undefined;
  const id = last.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  return id || undefined;
}

const UPLOAD_CONCURRENCY = 3;

function Uploader({ app, onChanged }: { app: string; onChanged: () => void }) {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [conceptsFromFolders, setConceptsFromFolders] = useState(true);
  const [dataset, setDataset] = useState('');
  const [datasets] = useLoad(() => api<{ datasets: { id: string }[] }>('GET', `${appPath(app)}/datasets?per_page=1000`).then((r) => r.datasets), [app]);
  const state = useRef(new Map<string, Upload>());

  const update = (key: string, change: Partial<Upload>) => {
    const next = { ...state.current.get(key)!, ...change };
    state.current.set(key, next);
    setUploads(Array.from(state.current.values()));
  };

  async function uploadOne(upload: Upload, picked: PickedFile) {
    update(upload.key, { state: 'uploading' });
    try {
      const concept = conceptsFromFolders ? conceptFromFolder(picked.folder) : undefined;
      const base64 = await fileToBase64(picked.file);
      const body = JSON.stringify({
        inputs: [{
          data: { image: { base64 }, ...(concept ? { concepts: [{ id: concept, value: 1 }] } : {}), metadata: { filename: picked.file.name } },
          ...(dataset ? { dataset_ids: [dataset] } : {}),
        }],
      });
      const { json } = await postWithProgress(`${appPath(app)}/inputs`, body, (p) => update(upload.key, { progress: p }));
      const status = json?.inputs?.[0]?.status ?? json?.status;
      if (json?.status?.code !== 10000) {
        update(upload.key, { state: 'failed', progress: 1, message: `${status?.code} ${status?.description ?? ''}${status?.details ? ' — ' + status.details : ''}` });
        return;
      }
      update(upload.key, { state: 'processing', progress: 1, inputId: json.inputs[0].id, message: statusName(json.inputs[0].status?.code) });
    } catch (err) {
      update(upload.key, { state: 'failed', message: describe(err) });
    }
  }

  async function start(files: PickedFile[]) {
    const stamp = Date.now();
    const picked = files.filter((f) => !f.file.name.startsWith('.'));
    const added = picked.map((f, i) => ({ key: `${stamp}-${i}`, name: f.file.name, folder: f.folder, progress: 0, state: 'queued' as const }));
    added.forEach((u) => state.current.set(u.key, u));
    setUploads(Array.from(state.current.values()));
    let next = 0;
    const worker = async () => {
      while (next < added.length) {
        const i = next++;
        await uploadOne(added[i], picked[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, added.length) }, worker));
    onChanged();
  }

  // Follows processing: inputs are added pending (30001) and the server downloads, decodes and indexes them.
  useEffect(() => {
    const pending = uploads.filter((u) => u.state === 'processing' && u.inputId);
    if (pending.length === 0) return;
    const timer = setTimeout(async () => {
      try {
        const ids = pending.slice(0, 100).map((u) => u.inputId!);
        const got = await api<{ inputs: Input[] }>('GET', `${appPath(app)}/inputs?${ids.map((id) => 'ids=' + encodeURIComponent(id)).join('&')}&per_page=100`);
        let finished = false;
        for (const input of got.inputs) {
          const upload = pending.find((u) => u.inputId === input.id);
          const code = input.status?.code;
          if (!upload) continue;
          if (code === 30000) {
            update(upload.key, { state: 'success', message: 'success' });
            finished = true;
          } else if (code !== undefined && code !== 30001 && code !== 30003) {
            update(upload.key, { state: 'failed', message: `${code} ${input.status?.description ?? ''}${input.status?.details ? ' — ' + input.status.details : ''}` });
            finished = true;
          }
        }
        if (finished) onChanged();
        else setUploads(Array.from(state.current.values()));
      } catch {
        setUploads(Array.from(state.current.values()));
      }
    }, 700);
    return () => clearTimeout(timer);
  }, [uploads]);

  const done = uploads.filter((u) => u.state === 'success').length;
  const failed = uploads.filter((u) => u.state === 'failed').length;
  return (
    <section class="card" aria-labelledby="upload-title">
      <h2 id="upload-title">Upload</h2>
      <DropZone label="Drop image files or whole folders here" folders multiple onFiles={start} testId="upload-drop" />
      <div class="row">
        <label class="inline">
          <input type="checkbox" checked={conceptsFromFolders} onChange={(e) => setConceptsFromFolders(e.currentTarget.checked)} /> Label each image with its folder's name as a concept
        </label>
        <label class="inline">
          Add to dataset{' '}
          <select value={dataset} onChange={(e) => setDataset(e.currentTarget.value)}>
            <option value="">(none)</option>
            {(datasets ?? []).map((d) => (
              <option key={d.id} value={d.id}>
                {d.id}
              </option>
            ))}
          </select>
        </label>
      </div>
      {uploads.length > 0 && (
        <>
          <p role="status" data-testid="upload-summary">
            {done} of {uploads.length} processed, {failed} failed
          </p>
          <ul class="uploads" aria-label="Uploads">
            {uploads.map((u) => (
              <li key={u.key} data-state={u.state}>
                <span class="file">{u.folder ? `${u.folder}/` : ''}{u.name}</span>
                <progress max={1} value={u.progress} aria-label={`${u.name} upload`} />
                <span class={'state ' + u.state}>{u.state === 'uploading' ? `${Math.round(u.progress * 100)}%` : u.message ?? u.state}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

export function InputsPage({ app }: { app: string }) {
  const [page, setPage] = useState(1);
  const [perPage, setPerPage] = useState(initialPageSize);
  const [tick, setTick] = useState(0);
  const [data, error] = useLoad(async (signal) => {
    const [list, count] = await Promise.all([
      api<{ inputs: Input[] }>('GET', `${appPath(app)}/inputs?page=${page}&per_page=${perPage}`, undefined, { signal }),
      api<{ counts: Record<string, string | number> }>('GET', `${appPath(app)}/inputs/status`, undefined, { signal }),
    ]);
    const c = count.counts ?? {};
    const n = (k: string) => Number(c[k] ?? 0);
    return { inputs: list.inputs, total: n('processed') + n('to_process') + n('errors') + n('processing'), processed: n('processed'), errors: n('errors') };
  }, [app, page, perPage, tick]);
  const pages = data ? Math.max(1, Math.ceil(data.total / perPage)) : 1;
  const pendingShown = data?.inputs.some((i) => i.status?.code === 30001 || i.status?.code === 30003);
  useEffect(() => {
    if (!pendingShown) return;
    const timer = setTimeout(() => setTick((t) => t + 1), 1500);
    return () => clearTimeout(timer);
  }, [data]);
  return (
    <section aria-labelledby="inputs-title">
      <h2 id="inputs-title">Inputs</h2>
      <Uploader app={app} onChanged={() => setTick((t) => t + 1)} />
      <Notice error={error} />
      {data && (
        <>
          <p data-testid="input-count" role="status">
            {data.total} input{data.total === 1 ? '' : 's'} ({data.processed} processed, {data.errors} failed)
          </p>
          {data.inputs.length === 0 ? (
            <p>No inputs yet: drop images or a folder above.</p>
          ) : (
            <ul class="grid" aria-label="Inputs">
              {data.inputs.map((input) => (
                <InputCard key={input.id} app={app} input={input} />
              ))}
            </ul>
          )}
          <nav class="pager" aria-label="Pages">
            <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
              Previous
            </button>
            <span>
              Page {page} of {pages}
            </span>
            <label class="inline">
              Per page{' '}
              <select
                value={perPage}
                onChange={(e) => {
                  setPerPage(Number(e.currentTarget.value));
                  setPage(1);
                }}
              >
                {PAGE_SIZES.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </label>
            <button type="button" disabled={page >= pages} onClick={() => setPage(page + 1)}>
              Next
            </button>
          </nav>
        </>
      )}
    </section>
  );
}
