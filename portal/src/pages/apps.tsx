import { useState } from 'preact/hooks';
import { api, session } from '../api';
import { Field, href, Notice, useLoad } from '../components';

interface App {
  id: string;
  name?: string;
  description?: string;
  created_at?: string;
  default_workflow?: { id?: string };
}

const BASE_WORKFLOWS = [
  ['Universal', 'Universal — recognition concepts and image embeddings (visual search)'],
  ['General', 'General — recognition concepts and image embeddings'],
  ['Empty', 'Empty — no indexing (no visual search)'],
];

export function AppsPage() {
  const user = session().userId;
  const [apps, error, reload] = useLoad(() => api<{ apps: App[] }>('GET', `/v2/users/${encodeURIComponent(user)}/apps?per_page=1000&sort_ascending=true`).then((r) => r.apps), [user]);
  const [id, setId] = useState('');
  const [workflow, setWorkflow] = useState('Universal');
  const [description, setDescription] = useState('');
  const [message, setMessage] = useState<string>();
  const [failure, setFailure] = useState<unknown>();
  const [confirming, setConfirming] = useState<string>();

  async function create(e: Event) {
    e.preventDefault();
    setFailure(undefined);
    setMessage(undefined);
    try {
      await api('POST', `/v2/users/${encodeURIComponent(user)}/apps`, {
        apps: [{ id: id.trim(), description: description || undefined, default_workflow: { id: workflow, app_id: 'main', user_id: 'clarifai' } }],
      });
      setMessage(`App ${id.trim()} created.`);
      setId('');
      setDescription('');
      reload();
    } catch (err) {
      setFailure(err);
    }
  }

  async function remove(appId: string) {
    setFailure(undefined);
    try {
      await api('DELETE', `/v2/users/${encodeURIComponent(user)}/apps/${encodeURIComponent(appId)}`);
      setMessage(`App ${appId} deleted.`);
      setConfirming(undefined);
      reload();
    } catch (err) {
      setFailure(err);
    }
  }

  return (
    <section aria-labelledby="apps-title">
      <h1 id="apps-title">Apps</h1>
      <form class="card" onSubmit={create} aria-label="Create an app">
        <h2>Create an app</h2>
        <Field label="App id" hint="Letters, digits, - and _.">
          <input name="app-id" required value={id} onInput={(e) => setId(e.currentTarget.value)} />
        </Field>
        <Field label="Base workflow" hint="What every new input is indexed with.">
          <select name="base-workflow" value={workflow} onChange={(e) => setWorkflow(e.currentTarget.value)}>
            {BASE_WORKFLOWS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Description (optional)">
          <input name="description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </Field>
        <button type="submit">Create app</button>
      </form>
      <Notice error={failure}>{message}</Notice>
      <Notice error={error} />
      {apps && apps.length === 0 && <p>No apps yet: create one above.</p>}
      {apps && apps.length > 0 && (
        <table class="list" aria-label="Your apps">
          <thead>
            <tr>
              <th scope="col">App</th>
              <th scope="col">Base workflow</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {apps.map((app) => (
              <tr key={app.id}>
                <td>
                  <a href={href('apps', app.id, 'inputs')}>{app.id}</a>
                  {app.description && <div class="muted">{app.description}</div>}
                </td>
                <td>{app.default_workflow?.id ?? '—'}</td>
                <td>{app.created_at ? new Date(app.created_at).toLocaleString() : ''}</td>
                <td>
                  {confirming === app.id ? (
                    <>
                      <button type="button" class="danger" onClick={() => remove(app.id)}>
                        Delete {app.id} and all its data
                      </button>{' '}
                      <button type="button" onClick={() => setConfirming(undefined)}>
                        Cancel
                      </button>
                    </>
                  ) : (
                    <button type="button" aria-label={`Delete app ${app.id}`} onClick={() => setConfirming(app.id)}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
