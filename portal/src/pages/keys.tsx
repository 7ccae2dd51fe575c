import { useState } from 'preact/hooks';
import { api, session } from '../api';
import { Field, Notice, useLoad } from '../components';

interface Key {
  id: string;
  type?: string;
  description?: string;
  scopes?: string[];
  apps?: { id: string; user_id?: string }[];
  created_at?: string;
  expires_at?: string;
}

export function KeysPage() {
  const user = encodeURIComponent(session().userId);
  const [keys, error, reload] = useLoad(() => api<{ keys: Key[] }>('GET', `/v2/users/${user}/keys?per_page=1000`).then((r) => r.keys), [user]);
  const [apps] = useLoad(() => api<{ apps: { id: string }[] }>('GET', `/v2/users/${user}/apps?per_page=1000`).then((r) => r.apps), [user]);
  const [type, setType] = useState<'app_specific_key' | 'personal_access_token'>('app_specific_key');
  const [app, setApp] = useState('');
  const [description, setDescription] = useState('');
  const [secret, setSecret] = useState<string>();
  const [message, setMessage] = useState<string>();
  const [failure, setFailure] = useState<unknown>();

  async function create(e: Event) {
    e.preventDefault();
    setFailure(undefined);
    setSecret(undefined);
    setMessage(undefined);
    const chosenApp = app || apps?.[0]?.id;
    const key = type === 'personal_access_token'
      ? { type, description, scopes: ['All'] }
      : { type, description, scopes: ['All'], apps: [{ id: chosenApp, user_id: session().userId }] };
    try {
      const created = await api<{ keys: Key[] }>('POST', `/v2/users/${user}/keys`, { keys: [key] });
      setSecret(created.keys[0].id);
      setDescription('');
      reload();
    } catch (err) {
      setFailure(err);
    }
  }

  async function remove(id: string) {
    setFailure(undefined);
    setSecret(undefined);
    try {
      await api('DELETE', `/v2/users/${user}/keys/${encodeURIComponent(id)}`);
      setMessage(`Key ${id} deleted.`);
      reload();
    } catch (err) {
      setFailure(err);
    }
  }

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">Keys</h1>
      <form class="card" onSubmit={create} aria-label="Create a key">
        <h2>Create a key</h2>
        <fieldset>
          <legend>Kind</legend>
          <label class="inline">
            <input type="radio" name="key-type" checked={type === 'app_specific_key'} onChange={() => setType('app_specific_key')} /> App-specific API key (one app)
          </label>
          <label class="inline">
            <input type="radio" name="key-type" checked={type === 'personal_access_token'} onChange={() => setType('personal_access_token')} /> Personal access token (all your apps)
          </label>
        </fieldset>
        {type === 'app_specific_key' && (
          <Field label="App">
            <select name="key-app" value={app} onChange={(e) => setApp(e.currentTarget.value)} required>
              {(apps ?? []).map((a) => (
                <option key={a.id} value={a.id}>
                  {a.id}
                </option>
              ))}
            </select>
          </Field>
        )}
        <Field label="Description">
          <input name="key-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </Field>
        <button type="submit" disabled={type === 'app_specific_key' && (apps?.length ?? 0) === 0}>
          Create key
        </button>
      </form>
      {secret && (
        <div class="card secret" role="status">
          <p>
            <strong>Copy this secret now: it is shown only once.</strong>
          </p>
          <p>
            <code data-testid="key-secret">{secret}</code>{' '}
            <button type="button" onClick={() => navigator.clipboard?.writeText(secret)}>
              Copy
            </button>
          </p>
        </div>
      )}
      <Notice error={failure}>{message}</Notice>
      <Notice error={error} />
      {keys && (
        <table class="list" aria-label="Your keys">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Kind</th>
              <th scope="col">App</th>
              <th scope="col">Description</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id}>
                <td>
                  <code>{k.id}</code>
                </td>
                <td>{k.type === 'personal_access_token' ? 'PAT' : 'API key'}</td>
                <td>{k.apps?.map((a) => a.id).join(', ') || '—'}</td>
                <td>{k.description}</td>
                <td>
                  <button type="button" aria-label={`Delete key ${k.id}`} onClick={() => remove(k.id)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
