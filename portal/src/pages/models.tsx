import { useEffect, useRef, useState } from 'preact/hooks';
import { api, appPath, session, statusName } from '../api';
import { Field, go, href, Notice, useLoad } from '../components';
import type { ModelRef } from './predict';

interface ModelVersion {
  id: string;
  created_at?: string;
  status?: { code: number; description?: string; details?: string };
  output_info?: { data?: { concepts?: { id: string; name?: string }[] }; output_config?: { concepts_mutually_exclusive?: boolean } };
}

const TRAINING = [21103, 21101];
const EVALUATING = [21303, 21301];

function versionBody(concepts: string[], exclusive: boolean, enrich: boolean) {
  return {
    model_versions: [{
      output_info: { data: { concepts: concepts.map((id) => ({ id })) }, output_config: { concepts_mutually_exclusive: exclusive } },
      train_info: { params: { enrich_dataset: enrich ? 'Automatic' : 'Disabled' } },
    }],
  };
}

/** The app's custom models, and a form to create and train an embedding-classifier on the app's labels. */
export function ModelsPage({ app }: { app: string }) {
  const user = session().userId;
  const [models, error] = useLoad(() => api<{ models: ModelRef[] }>('GET', `${appPath(app)}/models?per_page=1000`).then((r) => r.models.filter((m) => m.app_id === app && m.user_id === user)), [app]);
  const [concepts] = useLoad(() => api<{ concepts: { id: string; name?: string }[] }>('GET', `${appPath(app)}/concepts?per_page=1000`).then((r) => r.concepts), [app]);
  const [id, setId] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [exclusive, setExclusive] = useState(false);
  const [enrich, setEnrich] = useState(true);
  const [failure, setFailure] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  async function create(e: Event) {
    e.preventDefault();
    setFailure(undefined);
    if (chosen.length === 0) {
      setFailure(new Error('Choose at least one concept to train.'));
      return;
    }
    setBusy(true);
    try {
      await api('POST', `${appPath(app)}/models`, { models: [{ id: id.trim(), model_type_id: 'embedding-classifier' }] });
      await api('POST', `${appPath(app)}/models/${encodeURIComponent(id.trim())}/versions`, versionBody(chosen, exclusive, enrich));
      go('apps', app, 'models', id.trim());
    } catch (err) {
      setFailure(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="models-title">
      <h2 id="models-title">Models</h2>
      <form class="card" onSubmit={create} aria-label="Create and train a classifier">
        <h3>Create and train a classifier</h3>
        <p class="muted">An embedding-classifier learns the chosen concepts from the labels of this app's processed inputs.</p>
        <Field label="Model id">
          <input name="model-id" required value={id} onInput={(e) => setId(e.currentTarget.value)} />
        </Field>
        <fieldset>
          <legend>Concepts</legend>
          {concepts && concepts.length === 0 && <p>No concepts yet: label inputs first (e.g. upload folders named after them).</p>}
          {(concepts ?? []).map((c) => (
            <label class="inline" key={c.id}>
              <input
                type="checkbox"
                name="concept"
                value={c.id}
                checked={chosen.includes(c.id)}
                onChange={(e) => setChosen(e.currentTarget.checked ? [...chosen, c.id] : chosen.filter((x) => x !== c.id))}
              />{' '}
              {c.name || c.id}
            </label>
          ))}
        </fieldset>
        <label class="inline">
          <input type="checkbox" checked={exclusive} onChange={(e) => setExclusive(e.currentTarget.checked)} /> Concepts are mutually exclusive
        </label>
        <label class="inline">
          <input type="checkbox" checked={enrich} onChange={(e) => setEnrich(e.currentTarget.checked)} /> Enrich with built-in negatives
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create and train'}
        </button>
      </form>
      <Notice error={failure ?? error} />
      {models && models.length === 0 && <p>No custom models in this app yet.</p>}
      {models && models.length > 0 && (
        <ul class="plain" aria-label="Custom models">
          {models.map((m) => (
            <li key={m.id}>
              <a href={href('apps', app, 'models', m.id)}>{m.id}</a> <span class="muted">{m.model_type_id}</span>{' '}
              {m.model_version && <span class={'badge s' + m.model_version.status?.code}>{statusName(m.model_version.status?.code)}</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

interface BinaryMetrics {
  concept?: { id: string; name?: string };
  num_pos?: number;
  num_neg?: number;
  roc_auc?: number;
  f1?: number;
  avg_precision?: number;
  roc_curve?: { fpr?: number[]; tpr?: number[] };
  precision_recall_curve?: { recall?: number[]; precision?: number[] };
}

interface EvalMetrics {
  id: string;
  status?: { code: number; description?: string; details?: string };
  summary?: { macro_avg_roc_auc?: number; macro_avg_f1_score?: number; macro_avg_precision?: number; macro_avg_recall?: number };
  binary_metrics?: BinaryMetrics[];
  confusion_matrix?: { matrix?: { predicted?: string; actual?: string; value?: number; predicted_concept?: { id: string }; actual_concept?: { id: string } }[]; concept_ids?: string[] };
}

function Chart({ title, xLabel, yLabel, curves }: { title: string; xLabel: string; yLabel: string; curves: { label: string; x: number[]; y: number[] }[] }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const [drawn, setDrawn] = useState(false);
  useEffect(() => {
    let destroy: (() => void) | undefined;
    let cancelled = false;
    import('../charts').then(({ drawCurves }) => {
      if (cancelled || !ref.current) return;
      destroy = drawCurves(ref.current, title, xLabel, yLabel, curves);
      setDrawn(true);
    });
    return () => {
      cancelled = true;
      destroy?.();
    };
  }, [curves]);
  return (
    <figure class="chart" data-drawn={drawn ? 'true' : 'false'}>
      <canvas ref={ref} role="img" aria-label={`${title}: ${curves.map((c) => c.label).join(', ')}`} />
    </figure>
  );
}

/** Confusion matrix as a heat map: rows are actual concepts, columns predicted, cells the average predicted value. */
function ConfusionMatrix({ matrix }: { matrix: NonNullable<EvalMetrics['confusion_matrix']> }) {
  const entries = matrix.matrix ?? [];
  const actualOf = (e: (typeof entries)[number]) => e.actual_concept?.id ?? e.actual ?? '';
  const predictedOf = (e: (typeof entries)[number]) => e.predicted_concept?.id ?? e.predicted ?? '';
  const ids = matrix.concept_ids?.length ? matrix.concept_ids : Array.from(new Set(entries.flatMap((e) => [actualOf(e), predictedOf(e)])));
  const value = (actual: string, predicted: string) => entries.find((e) => actualOf(e) === actual && predictedOf(e) === predicted)?.value ?? 0;
  return (
    <table class="matrix" aria-label="Confusion matrix">
      <caption>Confusion matrix (rows: actual, columns: predicted; average predicted value)</caption>
      <thead>
        <tr>
          <th scope="col">actual \ predicted</th>
          {ids.map((id) => (
            <th scope="col" key={id}>
              {id}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {ids.map((actual) => (
          <tr key={actual}>
            <th scope="row">{actual}</th>
            {ids.map((predicted) => {
              const v = value(actual, predicted);
              return (
                <td key={predicted} style={{ background: `rgba(67, 99, 216, ${Math.min(1, Math.max(0, v)).toFixed(3)})`, color: v > 0.5 ? 'white' : undefined }}>
                  {v.toFixed(2)}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Evaluation({ base, versionId }: { base: string; versionId: string }) {
  const evals = `${base}/versions/${encodeURIComponent(versionId)}/evaluations`;
  const [list, error, reload] = useLoad(() => api<{ eval_metrics: EvalMetrics[] }>('GET', `${evals}?per_page=100&show_failed_metrics=true`).then((r) => r.eval_metrics), [evals]);
  // The evaluation just asked for, else the first listed (EvalMetrics carries no creation time to sort by).
  const [wanted, setWanted] = useState<string>();
  const latest = list?.find((e) => e.id === wanted) ?? list?.[0];
  const [full, setFull] = useState<EvalMetrics>();
  const [failure, setFailure] = useState<unknown>();
  useEffect(() => {
    if (!latest) return;
    if (EVALUATING.includes(latest.status?.code ?? 0)) {
      const timer = setTimeout(reload, 1000);
      return () => clearTimeout(timer);
    }
    if (latest.status?.code === 21300) {
      api<{ eval_metrics: EvalMetrics }>('GET', `${evals}/${encodeURIComponent(latest.id)}?fields.binary_metrics=true&fields.confusion_matrix=true&fields.label_counts=true`).then(
        (r) => setFull(r.eval_metrics),
        setFailure,
      );
    }
  }, [latest?.id, latest?.status?.code, list]);

  async function evaluate() {
    setFailure(undefined);
    setFull(undefined);
    try {
      const id = `eval-${Date.now().toString(36)}`;
      await api('POST', evals, { eval_metrics: [{ id }] });
      setWanted(id);
      reload();
    } catch (err) {
      setFailure(err);
    }
  }

  const metrics = full ?? latest;
  const binary = full?.binary_metrics ?? [];
  return (
    <div class="card" role="region" aria-label="Evaluation">
      <h3>Evaluation</h3>
      <p class="muted">5-fold cross-validation on the version's labels (at least 2 concepts with 10 labelled inputs each).</p>
      <button type="button" onClick={evaluate} disabled={!!latest && EVALUATING.includes(latest.status?.code ?? 0)}>
        Evaluate this version
      </button>
      <Notice error={failure ?? error} />
      {list && list.length === 0 && <p>Not evaluated yet.</p>}
      {metrics && (
        <p role="status" data-testid="evaluation-status">
          Evaluation {metrics.id}: {metrics.status?.description ?? statusName(metrics.status?.code)}
          {metrics.status?.details ? ` — ${metrics.status.details}` : ''}
        </p>
      )}
      {full?.summary && (
        <dl class="summary" data-testid="evaluation-summary">
          <dt>Macro ROC AUC</dt>
          <dd>{(full.summary.macro_avg_roc_auc ?? 0).toFixed(3)}</dd>
          <dt>Macro F1</dt>
          <dd>{(full.summary.macro_avg_f1_score ?? 0).toFixed(3)}</dd>
          <dt>Macro precision</dt>
          <dd>{(full.summary.macro_avg_precision ?? 0).toFixed(3)}</dd>
          <dt>Macro recall</dt>
          <dd>{(full.summary.macro_avg_recall ?? 0).toFixed(3)}</dd>
        </dl>
      )}
      {binary.length > 0 && (
        <>
          <table class="list" aria-label="Per-concept metrics">
            <thead>
              <tr>
                <th scope="col">Concept</th>
                <th scope="col">ROC AUC</th>
                <th scope="col">F1</th>
                <th scope="col">Avg. precision</th>
                <th scope="col">Positives</th>
                <th scope="col">Negatives</th>
              </tr>
            </thead>
            <tbody>
              {binary.map((b) => (
                <tr key={b.concept?.id}>
                  <th scope="row">{b.concept?.name || b.concept?.id}</th>
                  <td>{(b.roc_auc ?? 0).toFixed(3)}</td>
                  <td>{(b.f1 ?? 0).toFixed(3)}</td>
                  <td>{(b.avg_precision ?? 0).toFixed(3)}</td>
                  <td>{b.num_pos ?? 0}</td>
                  <td>{b.num_neg ?? 0}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="charts">
            <Chart title="ROC curves" xLabel="False positive rate" yLabel="True positive rate" curves={binary.map((b) => ({ label: b.concept?.id ?? '', x: b.roc_curve?.fpr ?? [], y: b.roc_curve?.tpr ?? [] }))} />
            <Chart title="Precision–recall curves" xLabel="Recall" yLabel="Precision" curves={binary.map((b) => ({ label: b.concept?.id ?? '', x: b.precision_recall_curve?.recall ?? [], y: b.precision_recall_curve?.precision ?? [] }))} />
          </div>
        </>
      )}
      {full?.confusion_matrix && <ConfusionMatrix matrix={full.confusion_matrix} />}
    </div>
  );
}

/** One custom model: its versions with their training status (followed live), retraining, evaluation. */
export function ModelPage({ app, modelId }: { app: string; modelId: string }) {
  const base = `${appPath(app)}/models/${encodeURIComponent(modelId)}`;
  const [versions, error, reload] = useLoad(() => api<{ model_versions: ModelVersion[] }>('GET', `${base}/versions?per_page=100`).then((r) => r.model_versions), [base]);
  // The concepts the model was last trained on (GetModelOutputInfo; version lists do not carry them).
  const [concepts] = useLoad(
    () => api<{ model: { model_version?: ModelVersion; output_info?: ModelVersion['output_info'] } }>('GET', `${base}/output_info`).then((r) => (r.model.model_version?.output_info ?? r.model.output_info)?.data?.concepts?.map((c) => c.id) ?? []),
    [base, versions?.length],
  );
  const [failure, setFailure] = useState<unknown>();
  const [selected, setSelected] = useState<string>();
  const training = versions?.some((v) => TRAINING.includes(v.status?.code ?? 0));
  useEffect(() => {
    if (!training) return;
    const timer = setTimeout(reload, 1000);
    return () => clearTimeout(timer);
  }, [versions]);
  const latestTrained = versions?.find((v) => v.status?.code === 21100);
  const shown = selected ?? latestTrained?.id;

  async function retrain() {
    setFailure(undefined);
    const last = versions?.[0];
    try {
      await api('POST', `${base}/versions`, versionBody(concepts ?? [], !!last?.output_info?.output_config?.concepts_mutually_exclusive, true));
      reload();
    } catch (err) {
      setFailure(err);
    }
  }

  return (
    <section aria-labelledby="model-title">
      <p>
        <a href={href('apps', app, 'models')}>← All models</a>
      </p>
      <h2 id="model-title">Model {modelId}</h2>
      <p>
        <button type="button" onClick={retrain} disabled={!versions || training || !concepts?.length}>
          Train a new version
        </button>{' '}
        <a href={href('apps', app, 'predict')}>Predict with it</a>
      </p>
      <Notice error={failure ?? error} />
      {concepts && concepts.length > 0 && <p data-testid="model-concepts">Concepts: {concepts.join(', ')}</p>}
      {versions && versions.length === 0 && <p>No version yet: train one.</p>}
      {versions && versions.length > 0 && (
        <table class="list" aria-label="Versions">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.id}>
                <td>
                  <code>{v.id}</code>
                </td>
                <td data-testid="version-status">
                  <span class={'badge s' + v.status?.code}>{v.status?.description ?? statusName(v.status?.code)}</span>
                  {v.status?.details ? <div class="muted">{v.status.details}</div> : null}
                </td>
                <td>{v.created_at ? new Date(v.created_at).toLocaleString() : ''}</td>
                <td>
                  {v.status?.code === 21100 && (
                    <button type="button" aria-pressed={shown === v.id} onClick={() => setSelected(v.id)}>
                      Show evaluation
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {shown && <Evaluation key={shown} base={base} versionId={shown} />}
    </section>
  );
}
