/**
 * The owner's generations, newest first, as a grid of tiles (the image once there is one, the
 * prompt shortened, the status and the time it was asked): filtered by status, the next page (the
 * list's cursor) fetched when the end of the grid comes into view or on request.
 */
import { html } from 'htm/preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { type Api, ApiError, type Generation } from './api.ts';
import { StatusBadge } from './status.ts';
import { moment, shortPrompt } from './words.ts';

const STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'];

export function Gallery(props: { api: Api; refresh: number; onOpen: (id: string) => void }) {
  const { api } = props;
  const [status, setStatus] = useState('');
  const [items, setItems] = useState<Generation[]>([]);
  const [cursor, setCursor] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [problem, setProblem] = useState<string | undefined>();
  const end = useRef<HTMLDivElement>(null);
  const generation = useRef(0);

  const load = useCallback(
    async (from: string | undefined) => {
      const mine = generation.current;
      setLoading(true);
      try {
        const page = await api.list({ status, ...(from !== undefined && { cursor: from }) });
        if (mine !== generation.current) return;
        setItems((shown) => (from === undefined ? page.items : [...shown, ...page.items]));
        setCursor(page.nextCursor);
        setProblem(undefined);
      } catch (error) {
        setProblem(error instanceof ApiError ? `${error.code} ${error.message}` : 'Not reachable');
      } finally {
        if (mine === generation.current) setLoading(false);
      }
    },
    [api, status],
  );

  useEffect(() => {
    generation.current++;
    setItems([]);
    setCursor(undefined);
    void load(undefined);
  }, [load, props.refresh]);

  useEffect(() => {
    const sentinel = end.current;
    if (sentinel === null || cursor === undefined || loading) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) void load(cursor);
    });
    observer.observe(sentinel);
    return () => observer.disconnect();
  }, [cursor, loading, load]);

  return html`
    <section aria-labelledby="gallery-heading">
      <h2 id="gallery-heading">Gallery</h2>
      <label for="status-filter">Status</label>
      <select
        id="status-filter"
        value=${status}
        onChange=${(e: Event) => setStatus((e.target as HTMLSelectElement).value)}
      >
        <option value="">All</option>
        ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
      ${problem && html`<p class="problem" role="alert">${problem}</p>`}
      <ul class="grid" aria-busy=${loading}>
        ${items.map((item) => {
          const image = item.images[0];
          // The tile's name is the whole prompt (the image's alt, or hidden text without one),
          // then its status and time; the shortened caption is for the eye only.
          return html`<li key=${item.id}>
            <button type="button" class="tile" onClick=${() => props.onOpen(item.id)}>
              ${
                image
                  ? html`<img src=${image.url} alt=${item.request.prompt} loading="lazy" width=${image.width} height=${image.height} />`
                  : html`<span class="placeholder" aria-hidden="true"></span>
                      <span class="visually-hidden">${item.request.prompt}</span>`
              }
              <span class="caption" aria-hidden="true">${shortPrompt(item.request.prompt)}</span>
              <span class="meta">
                <${StatusBadge} status=${item.status} /> <time datetime=${item.createdAt}>${moment(item.createdAt)}</time>
              </span>
            </button>
          </li>`;
        })}
      </ul>
      ${!loading && items.length === 0 && !problem && html`<p>No generations yet.</p>`}
      <div ref=${end} class="end">
        ${
          cursor !== undefined &&
          html`<button type="button" disabled=${loading} onClick=${() => load(cursor)}>
            More
          </button>`
        }
      </div>
    </section>
  `;
}
