/**
 * What a batch is called on the page. The API keeps no file name: a file sent as the body of
 * POST /batches is stored as `prompts/<owner>/batches/<batch id>.<format>`. So the page remembers,
 * for this tab (sessionStorage, beside the key, forgotten on sign out), the name of each file it
 * sent; a batch it did not send is named from its key: the path under the owner's folder for a
 * file put straight in the input bucket (the name its author gave it), or its format for one sent
 * through the API by another client.
 */
const NAMES_ITEM = 'spark-t2i.batchNames';
/** The most names kept: the newest, enough for the "Recent batches" list (20). */
const NAMES_KEPT = 50;
const API_UPLOAD_KEY = /^prompts\/[^/]+\/batches\/b_[0-9a-f]{40}\.(txt|jsonl|json)$/;

function remembered(): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(sessionStorage.getItem(NAMES_ITEM) ?? '{}');
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

export function rememberBatchName(id: string, fileName: string): void {
  const names = Object.entries({ ...remembered(), [id]: fileName }).slice(-NAMES_KEPT);
  sessionStorage.setItem(NAMES_ITEM, JSON.stringify(Object.fromEntries(names)));
}

export function forgetBatchNames(): void {
  sessionStorage.removeItem(NAMES_ITEM);
}

/** What of a batch its name is read from (written here: the unit tests see no DOM types). */
export interface NamedBatch {
  readonly id: string;
  readonly source: { readonly key: string };
}

/** The name a person knows the batch by. */
export function batchName(batch: NamedBatch): string {
  const known = remembered()[batch.id];
  if (typeof known === 'string' && known !== '') return known;
  const { key } = batch.source;
  const sent = API_UPLOAD_KEY.exec(key);
  if (sent) return `a .${sent[1]} file sent through the API`;
  // `prompts/<owner>/<path>`, or `prompts/<file>` for the default owner.
  const parts = key.split('/');
  return parts.slice(parts.length > 2 ? 2 : 1).join('/') || key;
}
