import { useState } from 'preact/hooks';
import { api, appPath, hostedUrl, inputState } from '../api';
import { Concepts, href, Notice, useLoad } from '../components';
import { AnnotatedImage, type Layer, type Region } from '../overlay';
import type { Input } from './inputs';
import { ModelPicker, type ModelRef, predictPath } from './predict';

interface Annotation {
  id: string;
  input_id: string;
  data?: { concepts?: { id: string; name?: string; value?: number }[]; regions?: Region[]; metadata?: Record<string, unknown> };
  status?: { code: number };
  created_at?: string;
}

/** One input: the image with its annotations and any predictions drawn over it. */
export function InputPage({ app, inputId }: { app: string; inputId: string }) {
  const [data, error] = useLoad(async (signal) => {
    const [got, annotations] = await Promise.all([
      api<{ input: Input }>('GET', `${appPath(app)}/inputs/${encodeURIComponent(inputId)}`, undefined, { signal }),
      api<{ annotations: Annotation[] }>('GET', `${appPath(app)}/annotations?input_ids=${encodeURIComponent(inputId)}&list_all_annotations=true&per_page=1000`, undefined, { signal }),
    ]);
    return { input: got.input, annotations: annotations.annotations };
  }, [app, inputId]);
  const [model, setModel] = useState<ModelRef>();
  const [prediction, setPrediction] = useState<{ model: string; concepts: { id?: string; name?: string; value?: number }[]; regions: Region[] }>();
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<unknown>();

  if (error) return <Notice error={error} />;
  if (!data) return <p role="status">Loading input {inputId}…</p>;
  const { input, annotations } = data;
  const layers: Layer[] = [];
  const annotatedRegions = annotations.flatMap((a) => a.data?.regions ?? []);
  if (annotatedRegions.length > 0) layers.push({ source: 'annotations', regions: annotatedRegions });
  if (prediction) layers.push({ source: prediction.model, regions: prediction.regions });
  const labels = annotations.flatMap((a) => a.data?.concepts ?? []);

  async function predict() {
    if (!model) return;
    setBusy(true);
    setFailure(undefined);
    try {
      const got = await api('POST', predictPath(app, model), { inputs: [{ id: input.id }] });
      const output = got.outputs[0];
      setPrediction({ model: model.id, concepts: output.data?.concepts ?? [], regions: output.data?.regions ?? [] });
    } catch (err) {
      setFailure(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="input-title">
      <p>
        <a href={href('apps', app, 'inputs')}>← All inputs</a>
      </p>
      <h2 id="input-title">Input {input.id}</h2>
      <p>
        Status: <span class={'badge ' + inputState(input.status?.code).replace(' ', '-')}>{inputState(input.status?.code)}</span> <span class="muted">({input.status?.code} {input.status?.description})</span>
        {input.status?.details ? ` — ${input.status.details}` : ''}
        {input.data?.image?.image_info?.width ? ` · ${input.data.image.image_info.width} × ${input.data.image.image_info.height}` : ''}
      </p>
      <div class="split">
        <AnnotatedImage path={hostedUrl(input.data?.image?.hosted, 'orig')} alt={`Input ${input.id}`} layers={layers} />
        <div>
          <h3>Labels</h3>
          {labels.length === 0 ? <p>No concept labels.</p> : <Concepts concepts={labels} label="Labelled concepts" />}
          {input.data?.metadata && Object.keys(input.data.metadata).length > 0 && (
            <>
              <h3>Metadata</h3>
              <pre class="json">{JSON.stringify(input.data.metadata, null, 2)}</pre>
            </>
          )}
          {(input.dataset_ids?.length ?? 0) > 0 && <p>Datasets: {input.dataset_ids!.join(', ')}</p>}
          <h3>Predict on this input</h3>
          <ModelPicker app={app} value={model} onChange={setModel} />
          <button type="button" onClick={predict} disabled={!model || busy}>
            {busy ? 'Predicting…' : 'Predict'}
          </button>
          <Notice error={failure} />
          {prediction && (
            <div role="region" aria-label="Prediction">
              <h4>{prediction.model}</h4>
              <Concepts concepts={prediction.concepts} label={`Concepts predicted by ${prediction.model}`} />
              {prediction.regions.length > 0 && <p>{prediction.regions.length} regions drawn over the image.</p>}
              {prediction.concepts.length === 0 && prediction.regions.length === 0 && <p>No concepts or regions.</p>}
            </div>
          )}
        </div>
      </div>
    </section>
  );
}
