/**
 * The console: signed out, a key to sign in with; signed in, the Generate form, the gallery and
 * a generation's detail. The key is checked against the API before it is kept.
 */
import { html } from 'htm/preact';
import { useMemo, useState } from 'preact/hooks';
import { Api, ApiError, type Generation } from './api.ts';
import { forgetBatchNames } from './batch-names.ts';
import { Batches } from './batches.ts';
import { Detail } from './detail.ts';
import { Gallery } from './gallery.ts';
import { type Draft, EMPTY_DRAFT, GenerateForm } from './generate.ts';
import { forgetKey, storedKey, storeKey } from './session.ts';

type View = { name: 'generate' | 'gallery' | 'batches' } | { name: 'detail'; id: string };

function SignIn(props: { onSignedIn: (key: string) => void }) {
  const [key, setKey] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const candidate = key.trim();
    if (candidate === '') {
      setProblem('Enter an API key.');
      return;
    }
    setBusy(true);
    try {
      await new Api(candidate).list({ limit: 1 });
      props.onSignedIn(candidate);
    } catch (error) {
      setProblem(
        error instanceof ApiError && error.status === 401
          ? 'That key was refused.'
          : error instanceof ApiError
            ? `${error.code} ${error.message}`
            : 'The API could not be reached.',
      );
    } finally {
      setBusy(false);
    }
  };
  return html`
    <section aria-labelledby="sign-in-heading" class="sign-in">
      <h2 id="sign-in-heading">Sign in</h2>
      <form onSubmit=${submit} novalidate>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autocomplete="off"
          spellcheck="false"
          value=${key}
          aria-describedby=${problem ? 'sign-in-problem' : 'api-key-hint'}
          onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)}
        />
        <p id="api-key-hint" class="hint">Kept in this tab only, until you sign out or close it.</p>
        ${problem && html`<p id="sign-in-problem" class="problem" role="alert">${problem}</p>`}
        <button type="submit" disabled=${busy}>Sign in</button>
      </form>
    </section>
  `;
}

export function App() {
  const [key, setKey] = useState<string | undefined>(storedKey);
  const [view, setView] = useState<View>({ name: 'generate' });
  const [draft, setDraft] = useState<Draft>(EMPTY_DRAFT);
  const [refresh, setRefresh] = useState(0);
  const api = useMemo(() => (key === undefined ? undefined : new Api(key)), [key]);

  const signIn = (value: string) => {
    storeKey(value);
    setKey(value);
  };
  const signOut = () => {
    forgetKey();
    forgetBatchNames();
    setKey(undefined);
    setDraft(EMPTY_DRAFT);
    setView({ name: 'generate' });
  };
  const again = (generation: Generation) => {
    const { request } = generation;
    setDraft({
      prompt: request.prompt,
      seed: String(request.seed),
      width: String(request.width),
      height: String(request.height),
      usePreLlm: request.use_pre_llm,
    });
    setView({ name: 'generate' });
  };
  const open = (id: string) => setView({ name: 'detail', id });
  const tab = (name: 'generate' | 'gallery' | 'batches', label: string) =>
    html`<button
      type="button"
      aria-current=${view.name === name ? 'page' : undefined}
      onClick=${() => setView({ name })}
    >
      ${label}
    </button>`;

  return html`
    <header>
      <h1>spark-t2i console</h1>
      ${
        api &&
        html`<nav aria-label="Views">
          ${tab('generate', 'Create')} ${tab('gallery', 'Gallery')} ${tab('batches', 'Batches')}
          <button type="button" onClick=${signOut}>Sign out</button>
        </nav>`
      }
    </header>
    <main>
      ${!api && html`<${SignIn} onSignedIn=${signIn} />`}
      ${
        api &&
        view.name === 'generate' &&
        html`<${GenerateForm}
          api=${api}
          draft=${draft}
          onDraft=${setDraft}
          onCreated=${() => setRefresh((n) => n + 1)}
          onOpen=${open}
        />`
      }
      ${api && view.name === 'gallery' && html`<${Gallery} api=${api} refresh=${refresh} onOpen=${open} />`}
      ${api && view.name === 'batches' && html`<${Batches} api=${api} />`}
      ${
        api &&
        view.name === 'detail' &&
        html`<${Detail}
          api=${api}
          id=${view.id}
          onBack=${() => setView({ name: 'gallery' })}
          onAgain=${again}
        />`
      }
    </main>
  `;
}
