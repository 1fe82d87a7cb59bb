/**
 * Where the API key lives while the tab is open: sessionStorage only (gone with the tab), never
 * localStorage, a cookie or a URL, and never logged.
 */
const KEY_ITEM = 'spark-t2i.apiKey';

export function storedKey(): string | undefined {
  return sessionStorage.getItem(KEY_ITEM) ?? undefined;
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY_ITEM, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY_ITEM);
}
