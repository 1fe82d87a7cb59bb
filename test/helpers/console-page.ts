/**
 * What the console's browser tests look for in a page: axe-core's serious findings, whether an
 * image has loaded, and every place a secret could leave the page by (what it requests, logs,
 * keeps and shows). Page-side code is passed as strings: the tests are compiled without the
 * DOM's types.
 */
import AxeBuilder from '@axe-core/playwright';
import type { BrowserContext, Page } from 'playwright-core';

/** Every violation axe finds at WCAG 2.1 A/AA that it rates serious or critical. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id}: ${violation.help} (${violation.nodes.length} nodes)`);
}

/** Whether the image named `name` has loaded (the policy allowed its origin and the URL answered). */
export async function loaded(page: Page, name: string): Promise<boolean> {
  return page
    .getByRole('img', { name, exact: true })
    .first()
    .evaluate((image) => {
      const shown = image as unknown as { complete: boolean; naturalWidth: number };
      return shown.complete && shown.naturalWidth > 0;
    });
}

/** What left the page while it was watched: the traffic and what it printed. */
export interface PageTraffic {
  readonly requestUrls: string[];
  readonly responseUrls: string[];
  readonly requestBodies: string[];
  /** The Authorization headers sent: where the key is meant to go. */
  readonly authorizations: string[];
  readonly consoleMessages: string[];
  readonly pageErrors: string[];
}

/** Records, from now on, every request and answer of the page and everything it printed. */
export function watchTraffic(page: Page): PageTraffic {
  const traffic: PageTraffic = {
    requestUrls: [],
    responseUrls: [],
    requestBodies: [],
    authorizations: [],
    consoleMessages: [],
    pageErrors: [],
  };
  page.on('request', (request) => {
    traffic.requestUrls.push(request.url());
    const body = request.postData();
    if (body !== null) traffic.requestBodies.push(body);
    const authorization = request.headers().authorization;
    if (authorization !== undefined) traffic.authorizations.push(authorization);
  });
  page.on('response', (response) => traffic.responseUrls.push(response.url()));
  page.on('console', (message) => traffic.consoleMessages.push(message.text()));
  page.on('pageerror', (error) => traffic.pageErrors.push(`${error.message}\n${error.stack}`));
  return traffic;
}

/**
 * Where `secret` is in what a screenshot or a person could see: the page's visible text, its
 * title and address, any element's attribute, any field's value except a password field's.
 */
export function shownSecret(page: Page, secret: string): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    const secret = ${JSON.stringify(secret)};
    const found = [];
    if (document.body.innerText.includes(secret)) found.push('visible text');
    if (document.title.includes(secret)) found.push('title');
    if (location.href.includes(secret)) found.push('address');
    for (const element of document.querySelectorAll('*')) {
      const name = element.tagName.toLowerCase() + (element.id ? '#' + element.id : '');
      for (const attribute of element.attributes) {
        if (attribute.value.includes(secret)) found.push(name + '[' + attribute.name + ']');
      }
      const isPassword = element instanceof HTMLInputElement && element.type === 'password';
      if ('value' in element && typeof element.value === 'string' && element.value.includes(secret) && !isPassword) {
        found.push(name + '.value');
      }
    }
    return found;
  })()`);
}

/** What the browser keeps for the page: its storages, cookies, databases and caches. */
export interface KeptByBrowser {
  readonly localStorage: Record<string, string>;
  readonly sessionStorage: Record<string, string>;
  readonly cookies: string[];
  readonly indexedDbNames: string[];
  readonly cacheNames: string[];
}

export async function keptByBrowser(page: Page, context: BrowserContext): Promise<KeptByBrowser> {
  const inPage = await page.evaluate<
    Omit<KeptByBrowser, 'cookies'> & { cookie: string }
  >(`(async () => ({
    localStorage: { ...localStorage },
    sessionStorage: { ...sessionStorage },
    cookie: document.cookie,
    indexedDbNames: (await indexedDB.databases()).map((database) => database.name),
    cacheNames: await caches.keys(),
  }))()`);
  const cookies = (await context.cookies()).map((cookie) => `${cookie.name}=${cookie.value}`);
  if (inPage.cookie !== '') cookies.push(inPage.cookie);
  const { cookie: _, ...kept } = inPage;
  return { ...kept, cookies };
}

/** The item of sessionStorage the page keeps the key in: the one place it may be. */
export const KEY_ITEM = 'spark-t2i.apiKey';

/** Where a secret was found: every place a trace was looked for, by name. */
export interface SecretTraces {
  readonly requestUrls: string[];
  readonly responseUrls: string[];
  readonly requestBodies: string[];
  readonly consoleMessages: string[];
  readonly pageErrors: string[];
  readonly localStorage: string[];
  readonly otherSessionItems: string[];
  readonly cookies: string[];
  readonly indexedDb: string[];
  readonly cacheStorage: string[];
  readonly runtimeLog: boolean;
  /** By view: where the page showed it ({@link shownSecret}). */
  readonly shown: Record<string, string[]>;
}

/** Where `secret` left a trace in what was watched, kept, logged and shown. */
export function tracesOf(
  secret: string,
  seen: {
    traffic: PageTraffic;
    kept: KeptByBrowser;
    log: string;
    shown: Record<string, string[]>;
  },
): SecretTraces {
  const holding = (texts: readonly string[]) => texts.filter((text) => text.includes(secret));
  const { [KEY_ITEM]: _, ...otherSessionItems } = seen.kept.sessionStorage;
  return {
    requestUrls: holding(seen.traffic.requestUrls),
    responseUrls: holding(seen.traffic.responseUrls),
    requestBodies: holding(seen.traffic.requestBodies),
    consoleMessages: holding(seen.traffic.consoleMessages),
    pageErrors: holding(seen.traffic.pageErrors),
    localStorage: holding(Object.entries(seen.kept.localStorage).flat()),
    otherSessionItems: holding(Object.entries(otherSessionItems).flat()),
    // Nothing at all is expected in these: the page uses none of them.
    cookies: seen.kept.cookies,
    indexedDb: seen.kept.indexedDbNames,
    cacheStorage: seen.kept.cacheNames,
    runtimeLog: seen.log.includes(secret),
    shown: seen.shown,
  };
}

/** No trace anywhere, the views named. */
export function noTraces(views: readonly string[]): SecretTraces {
  return {
    requestUrls: [],
    responseUrls: [],
    requestBodies: [],
    consoleMessages: [],
    pageErrors: [],
    localStorage: [],
    otherSessionItems: [],
    cookies: [],
    indexedDb: [],
    cacheStorage: [],
    runtimeLog: false,
    shown: Object.fromEntries(views.map((view) => [view, []])),
  };
}

/** Tells the page it is hidden or seen again, as switching tabs does. */
export async function setVisibility(page: Page, state: 'hidden' | 'visible'): Promise<void> {
  await page.evaluate(
    state === 'hidden'
      ? "Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' }); document.dispatchEvent(new Event('visibilitychange'))"
      : "delete document.visibilityState; document.dispatchEvent(new Event('visibilitychange'))",
  );
}
