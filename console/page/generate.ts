/**
 * The Generate form: every field of the request, the provider's recommended sizes as presets,
 * the server's own validation (the shared schema: the same codes and messages) before anything
 * is sent, then the generation followed until its image shows.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { validateGenerationRequest } from '#shared/request/schema.ts';
import { RECOMMENDED_SIZES } from '#shared/request/sizes.ts';
import { type Api, ApiError, follow, type Generation, type SubmittedRequest } from './api.ts';
import { StatusBadge } from './status.ts';

/** The form's fields as text, as a person typed them. */
export interface Draft {
  readonly prompt: string;
  readonly seed: string;
  readonly width: string;
  readonly height: string;
  readonly usePreLlm: boolean;
}

export const EMPTY_DRAFT: Draft = {
  prompt: '',
  seed: '-1',
  width: '1328',
  height: '1328',
  usePreLlm: true,
};

/**
 * A number field as the API would receive it: empty is absent, a number is a JSON number, and
 * anything else is sent as the text it is, so the schema answers the code the server would.
 */
function numberField(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
}

export function requestOf(draft: Draft): SubmittedRequest {
  const request: Record<string, unknown> = { prompt: draft.prompt, use_pre_llm: draft.usePreLlm };
  for (const [field, text] of [
    ['seed', draft.seed],
    ['width', draft.width],
    ['height', draft.height],
  ] as const) {
    const value = numberField(text);
    if (value !== undefined) request[field] = value;
  }
  return request as unknown as SubmittedRequest;
}

interface Problem {
  readonly code: string;
  readonly message: string;
  readonly field?: string;
}

const FIELD_IDS: Record<string, string> = {
  prompt: 'prompt',
  seed: 'seed',
  width: 'width',
  height: 'height',
  use_pre_llm: 'use-pre-llm',
};

export function GenerateForm(props: {
  api: Api;
  draft: Draft;
  onDraft: (draft: Draft) => void;
  onCreated: () => void;
  onOpen: (id: string) => void;
}) {
  const { api, draft, onDraft } = props;
  const [problem, setProblem] = useState<Problem | undefined>();
  const [warnings, setWarnings] = useState<ReadonlyArray<{ code: string; message: string }>>([]);
  const [current, setCurrent] = useState<Generation | undefined>();
  const [pending, setPending] = useState<{ id: string } | undefined>();
  const [sending, setSending] = useState(false);
  const following = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => following.current?.abort(), []);

  const set = (change: Partial<Draft>) => onDraft({ ...draft, ...change });
  const preset = RECOMMENDED_SIZES.findIndex(
    (size) =>
      String(size.width) === draft.width.trim() && String(size.height) === draft.height.trim(),
  );

  const submit = async (event: Event) => {
    event.preventDefault();
    const request = requestOf(draft);
    const checked = validateGenerationRequest(request);
    if (!checked.ok) {
      setProblem(checked.error);
      document
        .getElementById(FIELD_IDS[checked.error.details[0]?.field ?? ''] ?? 'prompt')
        ?.focus();
      return;
    }
    setProblem(undefined);
    setSending(true);
    following.current?.abort();
    try {
      const accepted = await api.submit(request);
      setWarnings(accepted.warnings ?? []);
      setPending({ id: accepted.id });
      setCurrent(undefined);
      props.onCreated();
      const controller = new AbortController();
      following.current = controller;
      await follow(api, accepted.id, setCurrent, controller.signal);
      props.onCreated();
    } catch (error) {
      setProblem(
        error instanceof ApiError
          ? { code: error.code, message: error.message }
          : { code: 'network', message: 'The API could not be reached' },
      );
    } finally {
      setSending(false);
    }
  };

  const invalid = (field: string) => problem?.field === field || undefined;
  const describedBy = (field: string, hint?: string) =>
    [hint, problem?.field === field ? 'generate-problem' : undefined].filter(Boolean).join(' ') ||
    undefined;
  const image = current?.status === 'completed' ? current.images[0] : undefined;

  return html`
    <section aria-labelledby="generate-heading">
      <h2 id="generate-heading">Create an image</h2>
      <form onSubmit=${submit} novalidate>
        <label for="prompt">Prompt</label>
        <textarea
          id="prompt"
          rows="3"
          value=${draft.prompt}
          aria-invalid=${invalid('prompt')}
          aria-describedby=${describedBy('prompt', 'prompt-hint')}
          onInput=${(e: Event) => set({ prompt: (e.target as HTMLTextAreaElement).value })}
        ></textarea>
        <p id="prompt-hint" class="hint">1–800 characters; up to 120 works best.</p>
        <div class="row">
          <div>
            <label for="size-preset">Size preset</label>
            <select
              id="size-preset"
              value=${preset === -1 ? 'custom' : String(preset)}
              onChange=${(e: Event) => {
                const chosen = RECOMMENDED_SIZES[Number((e.target as HTMLSelectElement).value)];
                if (chosen) set({ width: String(chosen.width), height: String(chosen.height) });
              }}
            >
              ${RECOMMENDED_SIZES.map(
                (size, index) =>
                  html`<option value=${String(index)}>
                    ${size.tier} ${size.ratio} — ${size.width} × ${size.height}
                  </option>`,
              )}
              <option value="custom">Custom</option>
            </select>
          </div>
          ${(['width', 'height'] as const).map(
            (field) => html`<div>
              <label for=${field}>${field === 'width' ? 'Width' : 'Height'}</label>
              <input
                id=${field}
                inputmode="numeric"
                autocomplete="off"
                value=${draft[field]}
                aria-invalid=${invalid(field)}
                aria-describedby=${describedBy(field)}
                onInput=${(e: Event) => set({ [field]: (e.target as HTMLInputElement).value })}
              />
            </div>`,
          )}
          <div>
            <label for="seed">Seed</label>
            <input
              id="seed"
              inputmode="numeric"
              autocomplete="off"
              value=${draft.seed}
              aria-invalid=${invalid('seed')}
              aria-describedby=${describedBy('seed', 'seed-hint')}
              onInput=${(e: Event) => set({ seed: (e.target as HTMLInputElement).value })}
            />
            <p id="seed-hint" class="hint">-1 for a random seed.</p>
          </div>
        </div>
        <div class="check">
          <input
            type="checkbox"
            id="use-pre-llm"
            checked=${draft.usePreLlm}
            onChange=${(e: Event) => set({ usePreLlm: (e.target as HTMLInputElement).checked })}
          />
          <label for="use-pre-llm">Let the provider expand the text first (use_pre_llm)</label>
        </div>
        ${
          problem &&
          html`<p id="generate-problem" class="problem" role="alert">
            <code>${problem.code}</code> ${problem.message}
          </p>`
        }
        <button type="submit" disabled=${sending}>Generate</button>
      </form>
      <div aria-live="polite" class="progress">
        ${warnings.map((w) => html`<p class="warning"><code>${w.code}</code> ${w.message}</p>`)}
        ${
          pending &&
          html`<p>
            Generation <code>${pending.id}</code>: <${StatusBadge} status=${current?.status ?? 'queued'} />
          </p>`
        }
        ${
          current?.error &&
          html`<p class="problem"><code>${current.error.code}</code> ${current.error.message}</p>`
        }
      </div>
      ${
        image &&
        current &&
        html`<figure class="result">
          <img src=${image.url} alt=${current.request.prompt} width=${image.width} height=${image.height} />
          <figcaption>
            <button type="button" class="link" onClick=${() => props.onOpen(current.id)}>Details</button>
          </figcaption>
        </figure>`
      }
    </section>
  `;
}
