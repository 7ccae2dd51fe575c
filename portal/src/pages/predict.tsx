import { useEffect, useRef, useState } from 'preact/hooks';
import { api, appPath, fileToBase64 } from '../api';
import { Concepts, DropZone, Field, Notice, useLoad } from '../components';
import { AnnotatedImage, type Region } from '../overlay';

export interface ModelRef {
  id: string;
  name?: string;
  app_id?: string;
  user_id?: string;
  model_type_id?: string;
  model_version?: { id?: string; status?: { code: number } };
}

/** Predict through the current app's route: the app's own models first, then clarifai/main's (Clarifai's "fetch from main"). */
export function predictPath(app: string, model: ModelRef): string {
  return `${appPath(app)}/models/${encodeURIComponent(model.id)}/outputs`;
}

/** Every model the user can reach from this app: the app's own and the public built-ins (ListModels lists both). */
export function ModelPicker({ app, value, onChange, filter }: { app: string; value?: ModelRef; onChange: (m: ModelRef | undefined) => void; filter?: (m: ModelRef) => boolean }) {
  const [models, error] = useLoad(() => api<{ models: ModelRef[] }>('GET', `${appPath(app)}/models?per_page=1000`).then((r) => r.models.filter(filter ?? (() => true))), [app]);
  // The default is offered once the list loads, but never over the user's own choice: the effect runs after the list is
  // drawn, so a pick made in between must win.
  const chosen = useRef(false);
  useEffect(() => {
    if (models && !value && !chosen.current && models.length > 0) onChange(models.find((m) => m.id === 'general-image-recognition') ?? models[0]);
  }, [models]);
  const key = (m: ModelRef) => `${m.user_id}/${m.app_id}/${m.id}`;
  return (
    <>
      <Field label="Model">
        <select name="model" value={value ? key(value) : ''} onChange={(e) => {
            chosen.current = true;
            onChange(models?.find((m) => key(m) === e.currentTarget.value));
          }}>
          {(models ?? []).map((m) => (
            <option key={key(m)} value={key(m)}>
              {m.id} ({m.model_type_id}{m.app_id === app ? ', this app' : `, ${m.user_id}/${m.app_id}`})
            </option>
          ))}
        </select>
      </Field>
      <Notice error={error} />
    </>
  );
}

export interface Output {
  status?: { code: number; description?: string; details?: string };
  model?: ModelRef;
  data?: { concepts?: { id: string; name?: string; value?: number }[]; regions?: Region[]; embeddings?: { vector?: number[]; num_dimensions?: number }[]; text?: { raw?: string } };
}

/** One model output: concepts as bars, regions listed (they are drawn over the image), embeddings summarised. */
export function OutputView({ output, title }: { output: Output; title: string }) {
  const d = output.data ?? {};
  const embedding = d.embeddings?.[0];
  return (
    <div class="output" role="region" aria-label={title}>
      <h3>{title}</h3>
      {output.status && output.status.code !== 10000 && (
        <p class="notice error" role="alert">
          {output.status.code} {output.status.description} {output.status.details}
        </p>
      )}
      <Concepts concepts={d.concepts} label={`Concepts from ${title}`} />
      {(d.regions?.length ?? 0) > 0 && <p>{d.regions!.length} region{d.regions!.length === 1 ? '' : 's'} (drawn over the image).</p>}
      {embedding && (
        <p>
          Embedding: {embedding.num_dimensions ?? embedding.vector?.length} dimensions, starting {embedding.vector?.slice(0, 4).map((v) => v.toFixed(4)).join(', ')}…
        </p>
      )}
      {output.status?.code === 10000 && !d.concepts?.length && !d.regions?.length && !embedding && <p>No concepts or regions.</p>}
    </div>
  );
}

/** An image for a playground: a dropped or chosen file (sent as base64) or a URL (fetched by the server). */
export function ImageSource({ onImage, label }: { onImage: (image: { base64?: string; url?: string; preview: string } | undefined) => void; label: string }) {
  const [url, setUrl] = useState('');
  return (
    <div class="image-source">
      <DropZone
        label={label}
        onFiles={async (files) => {
          const file = files[0]?.file;
          if (!file) return;
          onImage({ base64: await fileToBase64(file), preview: URL.createObjectURL(file) });
        }}
      />
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (url.trim()) onImage({ url: url.trim(), preview: url.trim() });
        }}
      >
        <Field label="…or an image URL (the server downloads it)">
          <input type="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        </Field>
        <button type="submit">Use URL</button>
      </form>
    </div>
  );
}

export function PredictPage({ app }: { app: string }) {
  const [model, setModel] = useState<ModelRef>();
  const [image, setImage] = useState<{ base64?: string; url?: string; preview: string }>();
  const [output, setOutput] = useState<Output>();
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<unknown>();
  const [maxConcepts, setMaxConcepts] = useState(10);

  async function run(chosen = image) {
    if (!model || !chosen) return;
    setBusy(true);
    setFailure(undefined);
    setOutput(undefined);
    try {
      const got = await api('POST', predictPath(app, model), {
        inputs: [{ data: { image: chosen.base64 ? { base64: chosen.base64 } : { url: chosen.url } } }],
        model: { output_info: { output_config: { max_concepts: maxConcepts } } },
      });
      setOutput(got.outputs[0]);
    } catch (err) {
      setFailure(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="predict-title">
      <h2 id="predict-title">Predict</h2>
      <div class="card">
        <ModelPicker app={app} value={model} onChange={setModel} />
        <Field label="Most concepts shown">
          <input type="number" min={1} max={200} value={maxConcepts} onInput={(e) => setMaxConcepts(Number(e.currentTarget.value) || 10)} />
        </Field>
        <ImageSource
          label="Drop an image to predict on"
          onImage={(i) => {
            setImage(i);
            void run(i);
          }}
        />
        <button type="button" onClick={() => run()} disabled={!model || !image || busy}>
          {busy ? 'Predicting…' : 'Predict again'}
        </button>
      </div>
      {busy && <p role="status">Predicting with {model?.id}…</p>}
      <Notice error={failure} />
      {image && output && (
        <div class="split">
          <AnnotatedImage src={image.preview} alt="The image predicted on" layers={[{ source: model?.id ?? 'model', regions: output.data?.regions ?? [] }]} />
          <OutputView output={output} title={`Prediction by ${model?.id}`} />
        </div>
      )}
    </section>
  );
}
