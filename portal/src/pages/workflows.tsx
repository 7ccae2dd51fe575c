import { useState } from 'preact/hooks';
import { api, appPath } from '../api';
import { Field, Notice, useLoad } from '../components';
import { AnnotatedImage } from '../overlay';
import { ImageSource, OutputView, type Output } from './predict';

interface Workflow {
  id: string;
  app_id?: string;
  user_id?: string;
  description?: string;
  nodes?: { id: string; model?: { id: string } }[];
  version?: { id?: string };
}

/** The app's workflows and clarifai/main's public ones; run one on an image and see every node's output. */
export function WorkflowsPage({ app }: { app: string }) {
  const [workflows, error] = useLoad(async () => {
    const [own, main] = await Promise.all([
      api<{ workflows: Workflow[] }>('GET', `${appPath(app)}/workflows?per_page=1000`),
      api<{ workflows: Workflow[] }>('GET', `/v2/users/clarifai/apps/main/workflows?per_page=1000`),
    ]);
    const seen = new Set<string>();
    return [...own.workflows, ...main.workflows].filter((w) => {
      const key = `${w.user_id}/${w.app_id}/${w.id}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }, [app]);
  const [chosen, setChosen] = useState('');
  const [image, setImage] = useState<{ base64?: string; url?: string; preview: string }>();
  const [outputs, setOutputs] = useState<Output[]>();
  const [failure, setFailure] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const key = (w: Workflow) => `${w.user_id}/${w.app_id}/${w.id}`;
  const workflow = workflows?.find((w) => key(w) === chosen) ?? workflows?.find((w) => w.id === 'General') ?? workflows?.[0];

  async function run(img = image) {
    if (!workflow || !img) return;
    setBusy(true);
    setFailure(undefined);
    setOutputs(undefined);
    try {
      const got = await api('POST', `${appPath(workflow.app_id ?? app, workflow.user_id)}/workflows/${encodeURIComponent(workflow.id)}/results`, {
        inputs: [{ data: { image: img.base64 ? { base64: img.base64 } : { url: img.url } } }],
      });
      setOutputs(got.results?.[0]?.outputs ?? []);
    } catch (err) {
      setFailure(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="workflows-title">
      <h2 id="workflows-title">Workflows</h2>
      <Notice error={error} />
      {workflows && (
        <table class="list" aria-label="Workflows">
          <thead>
            <tr>
              <th scope="col">Workflow</th>
              <th scope="col">Owner</th>
              <th scope="col">Nodes</th>
            </tr>
          </thead>
          <tbody>
            {workflows.map((w) => (
              <tr key={key(w)}>
                <td>{w.id}</td>
                <td>
                  {w.user_id}/{w.app_id}
                </td>
                <td>{w.nodes?.map((n) => n.model?.id ?? n.id).join(' → ') || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="card">
        <h3>Run a workflow</h3>
        <Field label="Workflow">
          <select name="workflow" value={workflow ? key(workflow) : ''} onChange={(e) => setChosen(e.currentTarget.value)}>
            {(workflows ?? []).map((w) => (
              <option key={key(w)} value={key(w)}>
                {w.id} ({w.user_id}/{w.app_id})
              </option>
            ))}
          </select>
        </Field>
        <ImageSource
          label="Drop an image to run the workflow on"
          onImage={(i) => {
            setImage(i);
            void run(i);
          }}
        />
        <button type="button" onClick={() => run()} disabled={!workflow || !image || busy}>
          {busy ? 'Running…' : 'Run again'}
        </button>
      </div>
      {busy && <p role="status">Running {workflow?.id}…</p>}
      <Notice error={failure} />
      {image && outputs && (
        <div class="split">
          <AnnotatedImage src={image.preview} alt="The image the workflow ran on" layers={outputs.filter((o) => (o.data?.regions?.length ?? 0) > 0).map((o) => ({ source: o.model?.id ?? 'node', regions: o.data!.regions! }))} />
          <div>
            {outputs.length === 0 && <p>The workflow has no nodes.</p>}
            {outputs.map((o, i) => (
              <OutputView key={i} output={o} title={`Node ${i + 1}: ${o.model?.id ?? ''}`} />
            ))}
          </div>
        </div>
      )}
    </section>
  );
}
