import { useState } from 'preact/hooks';
import { api, appPath, statusName } from '../api';
import { Field, Notice, useLoad } from '../components';

interface Dataset {
  id: string;
  description?: string;
  created_at?: string;
  version?: { id?: string };
}

interface DatasetVersion {
  id: string;
  description?: string;
  created_at?: string;
  status?: { code: number; description?: string };
  metrics?: Record<string, { inputs_count?: string | number }>;
}

function Versions({ app, dataset }: { app: string; dataset: string }) {
  const base = `${appPath(app)}/datasets/${encodeURIComponent(dataset)}`;
  const [data, error, reload] = useLoad(async () => {
    const [versions, inputs] = await Promise.all([
      api<{ dataset_versions: DatasetVersion[] }>('GET', `${base}/versions?per_page=1000`),
      api<{ dataset_inputs: unknown[] }>('GET', `${base}/inputs?per_page=1000`),
    ]);
    return { versions: versions.dataset_versions, inputs: inputs.dataset_inputs.length };
  }, [app, dataset]);
  const [description, setDescription] = useState('');
  const [failure, setFailure] = useState<unknown>();
  return (
    <div class="card" role="region" aria-label={`Dataset ${dataset}`}>
      <h3>Dataset {dataset}</h3>
      <Notice error={error ?? failure} />
      {data && (
        <>
          <p>
            {data.inputs >= 1000 ? 'at least 1000' : data.inputs} input{data.inputs === 1 ? '' : 's'}. Add inputs from the Inputs page (upload with "Add to dataset").
          </p>
          <form
            class="row"
            onSubmit={async (e) => {
              e.preventDefault();
              setFailure(undefined);
              try {
                await api('POST', `${base}/versions`, { dataset_versions: [{ description }] });
                setDescription('');
                reload();
              } catch (err) {
                setFailure(err);
              }
            }}
          >
            <Field label="New version description">
              <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
            </Field>
            <button type="submit">Create version</button>
          </form>
          {data.versions.length === 0 ? (
            <p>No versions yet.</p>
          ) : (
            <table class="list" aria-label={`Versions of ${dataset}`}>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Status</th>
                  <th scope="col">Inputs</th>
                  <th scope="col">Created</th>
                  <th scope="col">Description</th>
                </tr>
              </thead>
              <tbody>
                {data.versions.map((v) => (
                  <tr key={v.id}>
                    <td>
                      <code>{v.id}</code>
                    </td>
                    <td>{v.status?.description ?? statusName(v.status?.code)}</td>
                    <td>{v.metrics?.['/']?.inputs_count ?? ''}</td>
                    <td>{v.created_at ? new Date(v.created_at).toLocaleString() : ''}</td>
                    <td>{v.description}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </div>
  );
}

export function DatasetsPage({ app }: { app: string }) {
  const [datasets, error, reload] = useLoad(() => api<{ datasets: Dataset[] }>('GET', `${appPath(app)}/datasets?per_page=1000`).then((r) => r.datasets), [app]);
  const [id, setId] = useState('');
  const [selected, setSelected] = useState<string>();
  const [failure, setFailure] = useState<unknown>();
  const [message, setMessage] = useState<string>();
  return (
    <section aria-labelledby="datasets-title">
      <h2 id="datasets-title">Datasets</h2>
      <form
        class="card row"
        aria-label="Create a dataset"
        onSubmit={async (e) => {
          e.preventDefault();
          setFailure(undefined);
          try {
            await api('POST', `${appPath(app)}/datasets`, { datasets: [{ id: id.trim() }] });
            setMessage(`Dataset ${id.trim()} created.`);
            setId('');
            reload();
          } catch (err) {
            setFailure(err);
          }
        }}
      >
        <Field label="Dataset id">
          <input name="dataset-id" required value={id} onInput={(e) => setId(e.currentTarget.value)} />
        </Field>
        <button type="submit">Create dataset</button>
      </form>
      <Notice error={failure ?? error}>{message}</Notice>
      {datasets && datasets.length === 0 && <p>No datasets yet.</p>}
      {datasets && datasets.length > 0 && (
        <ul class="plain" aria-label="Datasets">
          {datasets.map((d) => (
            <li key={d.id} class="row">
              <button type="button" aria-expanded={selected === d.id} onClick={() => setSelected(selected === d.id ? undefined : d.id)}>
                {d.id}
              </button>
              <span class="muted">{d.created_at ? new Date(d.created_at).toLocaleString() : ''}</span>
              <button
                type="button"
                aria-label={`Delete dataset ${d.id}`}
                onClick={async () => {
                  setFailure(undefined);
                  try {
                    await api('DELETE', `${appPath(app)}/datasets`, { dataset_ids: [d.id] });
                    setMessage(`Dataset ${d.id} deleted.`);
                    if (selected === d.id) setSelected(undefined);
                    reload();
                  } catch (err) {
                    setFailure(err);
                  }
                }}
              >
                Delete
              </button>
            </li>
          ))}
        </ul>
      )}
      {selected && <Versions key={selected} app={app} dataset={selected} />}
    </section>
  );
}
