/**
 * Batches: a prompt file dropped (or chosen) is sent as the body of POST /batches with its
 * upload's progress; then its counts, live until it ends, its per-line report with each refused
 * line's code, and cancel. Earlier batches, newest first, can be opened the same way; their
 * statuses are read again while any of them is still moving and the page is in view.
 */
import { html } from 'htm/preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { type Api, ApiError, type Batch, type BatchReport } from './api.ts';
import { batchName, rememberBatchName } from './batch-names.ts';
import { StatusBadge } from './status.ts';
import { moment } from './words.ts';

const ENDED = new Set(['completed', 'cancelled', 'failed']);
/**
 * Statuses the list is read again for. A batch awaiting its upload is left out: it moves only
 * when someone puts its file, which the page did not start (the page sends files as the body).
 */
const MOVING = new Set(['validating', 'in_progress']);
/** The list's pause between reads: short at first, longer while nothing ends (at most 10 s). */
const LIST_FIRST_PAUSE_MS = 2000;
const LIST_LONGEST_PAUSE_MS = 10_000;
const COUNTS = [
  'lines',
  'accepted',
  'rejected',
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
] as const;

function problemOf(error: unknown): string {
  return error instanceof ApiError ? `${error.code} ${error.message}` : 'Not reachable';
}

function Report(props: { report: BatchReport }) {
  return html`<table>
    <caption>Report: ${props.report.summary.accepted} accepted, ${props.report.summary.rejected} refused</caption>
    <thead><tr><th scope="col">Line</th><th scope="col">Generation or error</th></tr></thead>
    <tbody>
      ${props.report.lines.map(
        (line) => html`<tr key=${line.line}>
          <td>${line.line}</td>
          <td>
            ${'id' in line ? html`<code>${line.id}</code>` : html`<code>${line.error.code}</code> ${line.error.message}`}
          </td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function BatchDetail(props: { api: Api; batch: Batch; onChange: (batch: Batch) => void }) {
  const { api, batch, onChange } = props;
  const [report, setReport] = useState<BatchReport | undefined>();
  const [problem, setProblem] = useState<string | undefined>();

  useEffect(() => {
    if (ENDED.has(batch.status)) return;
    const timer = setTimeout(() => {
      api.batch(batch.id).then(onChange, (error: unknown) => setProblem(problemOf(error)));
    }, 1000);
    return () => clearTimeout(timer);
  }, [api, batch, onChange]);

  const showReport = async () => {
    try {
      setReport(await api.report(batch.id));
      setProblem(undefined);
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  const cancel = async () => {
    try {
      onChange(await api.cancelBatch(batch.id));
    } catch (error) {
      setProblem(problemOf(error));
    }
  };

  // htm drops whitespace that holds a line break: words and values a space apart share a line.
  return html`<section aria-labelledby="batch-heading">
    <h3 id="batch-heading">Batch <code>${batch.id}</code></h3>
    <p>
      <${StatusBadge} status=${batch.status} /> <span class="batch-name">${batchName(batch)}</span> · cost ${batch.costUsd} USD
    </p>
    ${batch.error && html`<p class="problem"><code>${batch.error.code}</code> ${batch.error.message}</p>`}
    <dl class="counts" aria-live="polite">
      ${COUNTS.map((name) => html`<dt>${name}</dt><dd>${batch.counts[name]}</dd>`)}
    </dl>
    <div class="actions">
      ${!ENDED.has(batch.status) && html`<button type="button" onClick=${cancel}>Cancel batch</button>`}
      <button type="button" onClick=${showReport}>Show report</button>
    </div>
    ${problem && html`<p class="problem" role="alert">${problem}</p>`}
    ${report && html`<${Report} report=${report} />`}
  </section>`;
}

export function Batches(props: { api: Api }) {
  const { api } = props;
  const [batches, setBatches] = useState<Batch[]>([]);
  const [current, setCurrent] = useState<Batch | undefined>();
  const [progress, setProgress] = useState<{ sent: number; total: number } | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const [over, setOver] = useState(false);

  const refresh = useCallback(
    () =>
      api.batches().then(
        (page) => setBatches(page.items),
        (error: unknown) => setProblem(problemOf(error)),
      ),
    [api],
  );
  useEffect(() => {
    void refresh();
  }, [refresh]);

  // Read again while a listed batch is moving and the page is seen; a hidden page (another tab,
  // a minimised window) or another view stops it.
  const [visible, setVisible] = useState(document.visibilityState === 'visible');
  useEffect(() => {
    const onChange = () => setVisible(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', onChange);
    return () => document.removeEventListener('visibilitychange', onChange);
  }, []);
  const pause = useRef(LIST_FIRST_PAUSE_MS);
  const [reads, setReads] = useState(0);
  const moving = batches.some((batch) => MOVING.has(batch.status));
  useEffect(() => {
    if (!visible || !moving) {
      pause.current = LIST_FIRST_PAUSE_MS;
      return;
    }
    const timer = setTimeout(() => {
      pause.current = Math.min(pause.current * 1.5, LIST_LONGEST_PAUSE_MS);
      void refresh().finally(() => setReads((n) => n + 1));
    }, pause.current);
    return () => clearTimeout(timer);
  }, [visible, moving, reads, refresh]);

  // The batch open below the drop zone is read every second: the list shows what it reads.
  const showCurrent = useCallback((batch: Batch) => {
    setCurrent(batch);
    setBatches((listed) => listed.map((item) => (item.id === batch.id ? batch : item)));
  }, []);

  const send = async (file: File | undefined) => {
    if (file === undefined) return;
    setProblem(undefined);
    setProgress({ sent: 0, total: file.size });
    try {
      const batch = await api.uploadBatch(file, (sent, total) => setProgress({ sent, total }));
      rememberBatchName(batch.id, file.name);
      setCurrent(batch);
      void refresh();
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setProgress(undefined);
    }
  };

  return html`<section aria-labelledby="batches-heading">
    <h2 id="batches-heading">Batches</h2>
    <div
      class=${`drop${over ? ' over' : ''}`}
      onDragOver=${(e: DragEvent) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave=${() => setOver(false)}
      onDrop=${(e: DragEvent) => {
        e.preventDefault();
        setOver(false);
        void send(e.dataTransfer?.files[0]);
      }}
    >
      <label for="batch-file">Prompt file</label>
      <p class="hint" id="batch-file-hint">
        Drop a .jsonl, .txt or .json file here, or choose one: one request a line.
      </p>
      <input
        type="file"
        id="batch-file"
        accept=".jsonl,.ndjson,.txt,.json"
        aria-describedby="batch-file-hint"
        onChange=${(e: Event) => {
          const input = e.target as HTMLInputElement;
          void send(input.files?.[0]);
          input.value = '';
        }}
      />
      ${
        progress &&
        html`<label for="upload-progress">Upload</label>
          <progress id="upload-progress" max=${progress.total} value=${progress.sent}></progress>`
      }
    </div>
    ${problem && html`<p class="problem" role="alert">${problem}</p>`}
    ${current && html`<${BatchDetail} api=${api} batch=${current} onChange=${showCurrent} />`}
    <h3>Recent batches</h3>
    <ul class="batches">
      ${batches.map(
        (batch) => html`<li key=${batch.id}>
          <button type="button" class="link" onClick=${() => setCurrent(batch)}>
            ${batchName(batch)}
          </button>
          <time datetime=${batch.createdAt}>${moment(batch.createdAt)}</time>
          <${StatusBadge} status=${batch.status} />
        </li>`,
      )}
    </ul>
  </section>`;
}
