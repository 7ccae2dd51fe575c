import { useState } from 'preact/hooks';
import { api, appPath } from '../api';
import { Field, Notice, useLoad } from '../components';
import { InputCard, type Input } from './inputs';
import { ImageSource } from './predict';

interface Hit {
  score: number;
  input: Input;
}

/** Visual search (drop an image) with label, metadata and dataset filters, over PostInputsSearches. */
export function SearchPage({ app }: { app: string }) {
  const [image, setImage] = useState<{ base64?: string; url?: string; preview: string }>();
  const [concept, setConcept] = useState('');
  const [negative, setNegative] = useState(false);
  const [metadata, setMetadata] = useState('');
  const [dataset, setDataset] = useState('');
  const [hits, setHits] = useState<Hit[]>();
  const [failure, setFailure] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [datasets] = useLoad(() => api<{ datasets: { id: string }[] }>('GET', `${appPath(app)}/datasets?per_page=1000`).then((r) => r.datasets), [app]);
  const [concepts] = useLoad(() => api<{ concepts: { id: string; name?: string }[] }>('GET', `${appPath(app)}/concepts?per_page=1000`).then((r) => r.concepts), [app]);

  async function search(chosen = image) {
    setFailure(undefined);
    let meta: unknown;
    if (metadata.trim()) {
      try {
        meta = JSON.parse(metadata);
      } catch {
        setFailure(new Error('Metadata filter: not valid JSON, e.g. {"filename": "cat.jpg"}'));
        return;
      }
    }
    const filters: unknown[] = [];
    if (concept.trim()) filters.push({ annotation: { data: { concepts: [{ id: concept.trim(), value: negative ? 0 : 1 }] } } });
    if (meta !== undefined) filters.push({ annotation: { data: { metadata: meta } } });
    if (dataset) filters.push({ input: { dataset_ids: [dataset] } });
    const ranks = chosen ? [{ annotation: { data: { image: chosen.base64 ? { base64: chosen.base64 } : { url: chosen.url } } } }] : [];
    if (ranks.length === 0 && filters.length === 0) {
      setFailure(new Error('Drop an image or set a filter first.'));
      return;
    }
    setBusy(true);
    try {
      const got = await api<{ hits: Hit[] }>('POST', `${appPath(app)}/inputs/searches`, { searches: [{ query: { ranks, filters } }], pagination: { page: 1, per_page: 48 } });
      setHits(got.hits);
    } catch (err) {
      setFailure(err);
      setHits(undefined);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="search-title">
      <h2 id="search-title">Search</h2>
      <div class="card">
        <ImageSource
          label="Drop an image to find similar inputs"
          onImage={(i) => {
            setImage(i);
            void search(i);
          }}
        />
        {image && (
          <p class="row">
            <img class="query-thumb" src={image.preview} alt="Search image" />
            <button type="button" onClick={() => setImage(undefined)}>
              Clear image
            </button>
          </p>
        )}
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void search();
          }}
        >
          <fieldset>
            <legend>Filters</legend>
            <Field label="Labelled concept">
              <input name="concept" list="concept-ids" value={concept} onInput={(e) => setConcept(e.currentTarget.value)} />
            </Field>
            <datalist id="concept-ids">
              {(concepts ?? []).map((c) => (
                <option key={c.id} value={c.id} />
              ))}
            </datalist>
            <label class="inline">
              <input type="checkbox" checked={negative} onChange={(e) => setNegative(e.currentTarget.checked)} /> labelled as not this concept
            </label>
            <Field label="Metadata (JSON the input's metadata contains)">
              <input name="metadata" placeholder='{"filename": "cat.jpg"}' value={metadata} onInput={(e) => setMetadata(e.currentTarget.value)} />
            </Field>
            <Field label="Dataset">
              <select name="dataset" value={dataset} onChange={(e) => setDataset(e.currentTarget.value)}>
                <option value="">(any)</option>
                {(datasets ?? []).map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.id}
                  </option>
                ))}
              </select>
            </Field>
          </fieldset>
          <button type="submit" disabled={busy}>
            {busy ? 'Searching…' : 'Search'}
          </button>
        </form>
      </div>
      <Notice error={failure} />
      {hits && (
        <>
          <p role="status" data-testid="hit-count">
            {hits.length} hit{hits.length === 1 ? '' : 's'}
          </p>
          <ul class="grid" aria-label="Search results">
            {hits.map((h) => (
              <InputCard key={h.input.id} app={app} input={h.input} score={h.score} />
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
