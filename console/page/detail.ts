/**
 * One generation in full: the large image, the request, what it cost and took, its error; cancel
 * while it runs, download the image, or fill the form again with the same seed.
 */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { type Api, ApiError, follow, type Generation, TERMINAL } from './api.ts';
import { StatusBadge } from './status.ts';

function seconds(from: string, to: string | undefined): string {
  if (to === undefined) return '—';
  return `${((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1)} s`;
}

export function Detail(props: {
  api: Api;
  id: string;
  onBack: () => void;
  onAgain: (generation: Generation) => void;
}) {
  const { api, id } = props;
  const [generation, setGeneration] = useState<Generation | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const [cancelling, setCancelling] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    follow(api, id, setGeneration, controller.signal).catch((error: unknown) =>
      setProblem(error instanceof ApiError ? `${error.code} ${error.message}` : 'Not reachable'),
    );
    return () => controller.abort();
  }, [api, id]);

  const cancel = async () => {
    setCancelling(true);
    try {
      setGeneration(await api.cancel(id));
    } catch (error) {
      setProblem(error instanceof ApiError ? `${error.code} ${error.message}` : 'Not reachable');
    } finally {
      setCancelling(false);
    }
  };

  const g = generation;
  const image = g?.images[0];
  const rows: Array<[string, unknown]> = g
    ? [
        ['Status', html`<${StatusBadge} status=${g.status} />`],
        ['Prompt', g.request.prompt],
        ['Seed', g.request.seed === -1 ? '-1 (random)' : String(g.request.seed)],
        ['Size', `${g.request.width} × ${g.request.height}`],
        ['Prompt expansion', g.request.use_pre_llm ? 'on' : 'off'],
        ['Source', g.source],
        ['SHA-256', image ? html`<code class="hash">${image.sha256}</code>` : '—'],
        ['Bytes', image ? String(image.size) : '—'],
        ['Cost (USD)', g.costUsd === undefined ? '—' : String(g.costUsd)],
        [
          'Usage',
          g.usage
            ? `${g.usage.input_tokens ?? 0} in, ${g.usage.output_tokens ?? 0} out, ${g.usage.total_tokens ?? 0} tokens`
            : '—',
        ],
        ['Created', g.createdAt],
        ['Completed', g.completedAt ?? '—'],
        ['Took', seconds(g.createdAt, g.completedAt)],
        ['Polls', String(g.polls)],
        ['Error code', g.error ? html`<code>${g.error.code}</code>` : '—'],
        ['Error message', g.error?.message ?? '—'],
      ]
    : [];

  return html`
    <section aria-labelledby="detail-heading">
      <button type="button" class="link" onClick=${props.onBack}>Back to the gallery</button>
      <h2 id="detail-heading">Generation <code>${id}</code></h2>
      ${problem && html`<p class="problem" role="alert">${problem}</p>`}
      ${!g && !problem && html`<p>Loading…</p>`}
      ${
        g &&
        html`
          ${
            image &&
            html`<img class="large" src=${image.url} alt=${g.request.prompt} width=${image.width} height=${image.height} />`
          }
          <div class="actions">
            ${
              !TERMINAL.has(g.status) &&
              html`<button type="button" onClick=${cancel} disabled=${cancelling}>Cancel generation</button>`
            }
            ${
              image &&
              html`<a class="button" href=${image.url} download=${`${g.id}.png`} target="_blank" rel="noopener noreferrer">
                Download
              </a>`
            }
            <button type="button" onClick=${() => props.onAgain(g)}>Again with the same seed</button>
          </div>
          <dl>
            ${rows.map(([term, value]) => html`<dt>${term}</dt><dd>${value}</dd>`)}
          </dl>
        `
      }
    </section>
  `;
}
