import { render } from 'preact';
import { useState } from 'preact/hooks';
import './style.css';
import { api, describe, loadSession, setSession, type Session } from './api';
import { Field, go, href, useRoute } from './components';
import { AppsPage } from './pages/apps';
import { KeysPage } from './pages/keys';
import { InputsPage } from './pages/inputs';
import { InputPage } from './pages/input';
import { PredictPage } from './pages/predict';
import { SearchPage } from './pages/search';
import { DatasetsPage } from './pages/datasets';
import { ModelsPage, ModelPage } from './pages/models';
import { WorkflowsPage } from './pages/workflows';

function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [pat, setPat] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="narrow">
      <h1>Sign in to Iris</h1>
      <p>Paste a personal access token (PAT). <code>./iris serve</code> prints the bootstrap one on first start; it is also in <code>&lt;data-dir&gt;/bootstrap-pat</code>.</p>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            // GetUser with the alias "me" names the token's owner.
            const got = await api<{ user: { id: string } }>('GET', '/v2/users/me', undefined, { pat: pat.trim() });
            onSignedIn({ pat: pat.trim(), userId: got.user.id });
          } catch (err) {
            setError(describe(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <Field label="Personal access token">
          <input name="pat" type="password" autoComplete="off" required value={pat} onInput={(e) => setPat(e.currentTarget.value)} />
        </Field>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error && (
          <p class="notice error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

const APP_TABS: [string, string][] = [
  ['inputs', 'Inputs'],
  ['predict', 'Predict'],
  ['search', 'Search'],
  ['datasets', 'Datasets'],
  ['models', 'Models'],
  ['workflows', 'Workflows'],
];

function Portal() {
  const [signedIn, setSignedIn] = useState<Session | null>(loadSession());
  const route = useRoute();
  if (!signedIn) {
    return (
      <SignIn
        onSignedIn={(s) => {
          setSession(s);
          setSignedIn(s);
          go('apps');
        }}
      />
    );
  }
  const [section, app, tab, id] = route;
  let page;
  if (section === 'keys') page = <KeysPage />;
  else if (section === 'apps' && app) {
    const current = tab ?? 'inputs';
    page = (
      <>
        <nav class="tabs" aria-label={`App ${app}`}>
          <h1 class="app-title">{app}</h1>
          <ul>
            {APP_TABS.map(([key, label]) => (
              <li key={key}>
                <a href={href('apps', app, key)} aria-current={current === key ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {current === 'inputs' && (id ? <InputPage app={app} inputId={id} /> : <InputsPage app={app} />)}
        {current === 'predict' && <PredictPage app={app} />}
        {current === 'search' && <SearchPage app={app} />}
        {current === 'datasets' && <DatasetsPage app={app} />}
        {current === 'models' && (id ? <ModelPage app={app} modelId={id} /> : <ModelsPage app={app} />)}
        {current === 'workflows' && <WorkflowsPage app={app} />}
      </>
    );
  } else page = <AppsPage />;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById('main')?.focus();
      }}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href('apps')}>
          Iris
        </a>
        <nav aria-label="Main">
          <a href={href('apps')} aria-current={section !== 'keys' ? 'page' : undefined}>
            Apps
          </a>
          <a href={href('keys')} aria-current={section === 'keys' ? 'page' : undefined}>
            Keys
          </a>
        </nav>
        <span class="user" aria-label="Signed in as">
          {signedIn.userId}
        </span>
        <button
          type="button"
          class="link"
          onClick={() => {
            setSession(null);
            setSignedIn(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

render(<Portal />, document.getElementById('app')!);
