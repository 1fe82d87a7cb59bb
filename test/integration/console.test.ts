/**
 * The console in a real browser against the local runtime (`serve`, bundles as deployed): one
 * runtime and one Chromium for the file, a fresh browser context (its own sessionStorage) per
 * test. The simulator takes 8 s per task, long enough to cancel one from the page. The
 * key-privacy test has a runtime of its own (below).
 */
import { randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateGenerationRequest } from '#shared/request/schema.ts';
import { launchBrowser } from '../helpers/browser.ts';
import {
  KEY_ITEM,
  keptByBrowser,
  loaded,
  noTraces,
  seriousViolations,
  setVisibility,
  shownSecret,
  tracesOf,
  watchTraffic,
} from '../helpers/console-page.ts';
import { type ServedRuntime, serve, submit, waitForTerminal } from '../helpers/serve.ts';

const TEST_TIMEOUT_MS = 60_000;
/** How long a page may take to show what is expected (the machine may be busy). */
const EVENTUALLY = { timeout: 20_000, interval: 100 };

let runtime: ServedRuntime;
let browser: Browser;
let context: BrowserContext;
/** What the page reported against its content security policy, or threw. */
let pageProblems: string[];

/** A prompt longer than a gallery tile shows (60 characters). */
const LONG_PROMPT =
  'a long winding mountain road at dusk with lanterns along the stone walls and a small red car climbing';

/** A first run in a fresh clone synthesizes the stack and builds every bundle first. */
const FIRST_START_MS = 240_000;

beforeAll(async () => {
  // One after the other: on two cores, a first synthesis and Chromium's start compete.
  runtime = await serve({ simLatencyMs: 8000, readyTimeoutMs: FIRST_START_MS });
  browser = await launchBrowser();
}, FIRST_START_MS + 60_000);

afterAll(async () => {
  await browser?.close();
  await runtime?.stop();
});

afterEach(async () => {
  await context?.close();
});

async function openConsole(): Promise<Page> {
  context = await browser.newContext();
  const page = await context.newPage();
  pageProblems = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().includes('404')) {
      pageProblems.push(message.text());
    }
  });
  page.on('pageerror', (error) => pageProblems.push(error.message));
  await page.goto(`${runtime.endpoints.api}/`);
  return page;
}

async function signIn(page: Page): Promise<void> {
  await page.getByLabel('API key').fill(runtime.apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Prompt', { exact: true }).waitFor();
}

describe('the console', () => {
  it(
    'signs in with an API key, generates, and shows the image once it is stored',
    async () => {
      const page = await openConsole();
      await signIn(page);
      await page.getByLabel('Prompt', { exact: true }).fill('a red fox in the snow');
      await page.getByRole('button', { name: 'Generate', exact: true }).click();

      await expect
        .poll(() => page.getByText('queued').or(page.getByText('running')).count(), EVENTUALLY)
        .toBeGreaterThan(0);
      const image = page.getByRole('img', { name: 'a red fox in the snow', exact: true });
      await image.waitFor({ timeout: 30_000 });
      await expect.poll(() => loaded(page, 'a red fox in the snow'), EVENTUALLY).toBe(true);
      expect(pageProblems).toEqual([]);
      // No usage view until the API serves GET /usage (D35): this fails once it does.
      expect((await runtime.api('/usage')).status).not.toBe(200);
      expect(
        await page.getByRole('navigation', { name: 'Views' }).getByRole('button').allTextContents(),
      ).toEqual(['Create', 'Gallery', 'Batches', 'Sign out']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'shows the gallery newest first after a reload (thumbnail, shortened prompt, time), fetches more on scroll, and filters it by status',
    async () => {
      await submit(runtime, { prompt: LONG_PROMPT });
      const done = await submit(runtime, { prompt: 'a gallery lighthouse' });
      const record = await waitForTerminal(runtime, done);
      const page = await openConsole();
      await signIn(page);
      await page.reload();
      await page.getByRole('button', { name: 'Gallery' }).click();
      const tiles = page.locator('.grid > li');
      const first = tiles.first().getByRole('img', { name: 'a gallery lighthouse', exact: true });
      await first.waitFor({ timeout: 10_000 });
      await expect.poll(() => loaded(page, 'a gallery lighthouse'), EVENTUALLY).toBe(true);
      // The thumbnail is the image the API answers; the tile names its prompt and time.
      // (Signed again at each read: the same object, another signature.)
      const shownAt = new URL((await first.getAttribute('src')) ?? '', runtime.endpoints.api);
      expect(shownAt.pathname).toBe(new URL(record.images[0]?.url ?? '').pathname);
      expect(await tiles.first().locator('.caption').textContent()).toBe('a gallery lighthouse');
      const time = tiles.first().locator('time');
      expect(await time.getAttribute('datetime')).toBe(record.createdAt);
      expect(await time.textContent()).toMatch(/\b20\d\d\b.*\d{1,2}:\d{2}/);
      // A long prompt is shortened on the tile, whole in its accessible name.
      const longTile = tiles.nth(1);
      const caption = (await longTile.locator('.caption').textContent()) ?? '';
      expect(caption.length).toBeLessThanOrEqual(60);
      expect(caption.endsWith('…')).toBe(true);
      expect(LONG_PROMPT.startsWith(caption.slice(0, -1))).toBe(true);
      await longTile.getByRole('button', { name: LONG_PROMPT }).waitFor();

      // More than a page (24) after it: the newest come first, the rest when scrolled to.
      for (let chunk = 0; chunk < 5; chunk++) {
        await Promise.all(
          [0, 1, 2, 3, 4].map((index) => submit(runtime, { prompt: `later ${chunk * 5 + index}` })),
        );
      }
      await page.getByRole('button', { name: 'Create' }).click();
      await page.getByRole('button', { name: 'Gallery' }).click();
      await expect.poll(() => tiles.count(), EVENTUALLY).toBe(24);
      await tiles
        .first()
        .getByRole('button', { name: /^later (2[0-4])\b/ })
        .waitFor();
      await page.locator('.end').scrollIntoViewIfNeeded();
      await expect.poll(() => tiles.count(), EVENTUALLY).toBeGreaterThan(24);

      await page.getByLabel('Status').selectOption('completed');
      await expect
        .poll(async () => {
          const shown = await page.locator('.grid .status').allTextContents();
          return shown.length > 0 && shown.every((status) => status === 'completed');
        }, EVENTUALLY)
        .toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'opens a generation in full: seed, size, sha256, cost, usage and timings; again with the same seed fills the form',
    async () => {
      const id = await submit(runtime, {
        prompt: 'a detailed harbour',
        seed: 4242,
        width: 1472,
        height: 1104,
      });
      const record = await waitForTerminal(runtime, id);
      const page = await openConsole();
      await signIn(page);
      await page.getByRole('button', { name: 'Gallery' }).click();
      await page.getByRole('button', { name: 'a detailed harbour' }).first().click();

      await page.getByRole('heading', { name: `Generation ${id}` }).waitFor();
      const details = page.locator('dl');
      await expect
        .poll(() => details.textContent(), EVENTUALLY)
        .toContain(record.images[0]?.sha256 ?? '?');
      const text = await details.textContent();
      expect(text).toContain('4242');
      expect(text).toContain('1472 × 1104');
      expect(text).toContain(String(record.costUsd));
      expect(text).toMatch(/\d+ in, \d+ out, \d+ tokens/);
      expect(text).toContain(record.createdAt as string);
      expect(await page.getByRole('link', { name: 'Download' }).getAttribute('href')).toBe(
        (await page.getByRole('img', { name: 'a detailed harbour' }).getAttribute('src')) ?? '',
      );

      await page.getByRole('button', { name: 'Again with the same seed' }).click();
      await expect(page.getByLabel('Seed').inputValue()).resolves.toBe('4242');
      await expect(page.getByLabel('Prompt', { exact: true }).inputValue()).resolves.toBe(
        'a detailed harbour',
      );
      await expect(page.getByLabel('Width').inputValue()).resolves.toBe('1472');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'cancels a running generation from its detail view',
    async () => {
      const page = await openConsole();
      await signIn(page);
      // Submitted once the page is ready: the simulator's 8 s is the time to cancel it in.
      const id = await submit(runtime, { prompt: 'a generation to cancel' });
      await page.getByRole('button', { name: 'Gallery' }).click();
      await page.getByRole('button', { name: 'a generation to cancel' }).first().click();
      await page.getByRole('button', { name: 'Cancel generation' }).click();

      await expect.poll(() => page.locator('dl').textContent(), EVENTUALLY).toContain('cancelled');
      const record = await waitForTerminal(runtime, id);
      expect(record.status).toBe('cancelled');
      expect(await page.locator('dl').textContent()).toContain(record.error?.code ?? '?');
    },
    TEST_TIMEOUT_MS,
  );

  it.each([
    ['a size below the provider’s range', { width: '100', height: '100' }],
    ['one side only', { width: '1328', height: '' }],
    ['a seed out of range', { seed: '0' }],
    ['no prompt', { prompt: '   ' }],
  ])(
    'refuses %s before sending, with the code and message the server answers',
    async (_, fields) => {
      const page = await openConsole();
      await signIn(page);
      const posts: string[] = [];
      page.on('request', (request) => {
        if (request.method() === 'POST') posts.push(request.url());
      });
      const values = { prompt: 'a valid prompt', ...fields };
      await page.getByLabel('Prompt', { exact: true }).fill(values.prompt);
      for (const [label, field] of [
        ['Width', 'width'],
        ['Height', 'height'],
        ['Seed', 'seed'],
      ] as const) {
        const value = (fields as Record<string, string>)[field];
        if (value !== undefined) await page.getByLabel(label, { exact: true }).fill(value);
      }
      await page.getByRole('button', { name: 'Generate', exact: true }).click();

      const alert = page.getByRole('alert');
      await alert.waitFor();
      // The body the page would have sent, answered by the server itself.
      const body: Record<string, unknown> = { prompt: values.prompt, use_pre_llm: true };
      for (const field of ['width', 'height', 'seed'] as const) {
        const value = (values as Record<string, string>)[field];
        if (value !== undefined && value !== '') body[field] = Number(value);
      }
      if (body.seed === undefined) body.seed = -1;
      if (body.width === undefined && body.height === undefined) {
        body.width = 1328;
        body.height = 1328;
      }
      const answer = await runtime.api('/generations', {
        method: 'POST',
        body: JSON.stringify(body),
      });
      const { error } = (await answer.json()) as { error: { code: string; message: string } };
      expect(answer.status).toBe(400);
      const local = validateGenerationRequest(body);
      expect(local.ok ? undefined : local.error.code).toBe(error.code);
      await expect(alert.textContent()).resolves.toBe(`${error.code} ${error.message}`);
      expect(posts).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'generates with the keyboard alone',
    async () => {
      const page = await openConsole();
      // Evaluated in the page (a string: the tests are compiled without the DOM's types).
      const focused = () =>
        page.evaluate<string>(
          "(() => { const e = document.activeElement; return (e?.id ?? '') + '|' + (e?.textContent?.trim() ?? ''); })()",
        );
      const tabTo = async (wanted: (focus: string) => boolean) => {
        for (let step = 0; step < 20; step++) {
          await page.keyboard.press('Tab');
          if (wanted(await focused())) return;
        }
        throw new Error(`no focusable element matched; last focus ${await focused()}`);
      };
      await tabTo((focus) => focus.startsWith('api-key|'));
      await page.keyboard.type(runtime.apiKey);
      await page.keyboard.press('Enter');
      await page.getByLabel('Prompt', { exact: true }).waitFor();
      await tabTo((focus) => focus.startsWith('prompt|'));
      await page.keyboard.type('a keyboard only lantern');
      await tabTo((focus) => focus === '|Generate');
      await page.keyboard.press('Enter');

      await page
        .getByRole('img', { name: 'a keyboard only lantern', exact: true })
        .waitFor({ timeout: 30_000 });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'has no serious or critical WCAG 2.1 AA violation on any view',
    async () => {
      const id = await submit(runtime, { prompt: 'an accessible orchard' });
      await waitForTerminal(runtime, id);
      const page = await openConsole();
      expect(await seriousViolations(page), 'sign in').toEqual([]);
      await signIn(page);
      await page.getByLabel('Prompt', { exact: true }).fill('x'.repeat(130));
      await page.getByLabel('Width', { exact: true }).fill('10');
      await page.getByRole('button', { name: 'Generate', exact: true }).click();
      await page.getByRole('alert').waitFor();
      expect(await seriousViolations(page), 'generate, refused').toEqual([]);
      await page.getByRole('button', { name: 'Gallery' }).click();
      await page.getByRole('img', { name: 'an accessible orchard', exact: true }).first().waitFor();
      expect(await seriousViolations(page), 'gallery').toEqual([]);
      await page.getByRole('button', { name: 'an accessible orchard' }).first().click();
      await page.locator('dl').waitFor();
      expect(await seriousViolations(page), 'detail').toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'sends a prompt file as a batch: live counts, the report with each refused line’s code, cancel',
    async () => {
      const page = await openConsole();
      await signIn(page);
      await page.getByRole('button', { name: 'Batches' }).click();
      const file = [
        JSON.stringify({ prompt: 'a batch line one' }),
        JSON.stringify({ prompt: 'a batch line two', width: 100, height: 100 }),
        JSON.stringify({ prompt: 'a batch line three' }),
      ].join('\n');
      await page.getByLabel('Prompt file').setInputFiles({
        name: 'lines.jsonl',
        mimeType: 'application/jsonl',
        buffer: Buffer.from(file),
      });

      const counts = page.locator('dl.counts');
      await expect
        .poll(async () => (await counts.textContent()) ?? '', EVENTUALLY)
        .toMatch(/lines3accepted2rejected1/);
      // At once, while its two lines are still at the provider (8 s each): a slow machine could
      // otherwise let the batch complete before the click.
      await page.getByRole('button', { name: 'Cancel batch' }).click();
      await expect
        .poll(() => page.locator('#batch-heading + p').textContent(), EVENTUALLY)
        .toContain('cancelled');
      await page.getByRole('button', { name: 'Show report' }).click();
      const refused = page.getByRole('row', { name: /^2 / });
      await refused.waitFor();
      expect(await refused.textContent()).toContain('003001009');
      expect(await seriousViolations(page), 'batches').toEqual([]);
      // Named by the file the person chose, not by where the API stored it; the list shows it.
      expect(await page.locator('#batch-heading + p .batch-name').textContent()).toBe(
        'lines.jsonl',
      );
      const listed = page.locator('.batches li').first();
      await listed.getByRole('button', { name: 'lines.jsonl', exact: true }).waitFor();
      await expect.poll(() => listed.locator('.status').textContent()).toBe('cancelled');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'reads the recent batches again while one is moving and the page is seen, and stops once all have ended',
    async () => {
      const sent = await runtime.api('/batches', {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'a polled batch line\n',
      });
      expect(sent.status).toBe(201);
      const page = await openConsole();
      await signIn(page);
      const listReads: string[] = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname.endsWith('/batches')) listReads.push(request.url());
      });
      await page.getByRole('button', { name: 'Batches' }).click();
      // Sent by another client: named by its format, as the API keeps no file name.
      const entry = page.locator('.batches li').first();
      await entry.getByRole('button', { name: 'a .txt file sent through the API' }).waitFor();
      expect(await entry.locator('.status').textContent()).toMatch(/^(validating|in_progress)$/);

      // Hidden (another tab, a minimised window): no read, though the batch is moving.
      await setVisibility(page, 'hidden');
      const readsWhenHidden = listReads.length;
      await new Promise((resolve) => setTimeout(resolve, 4000));
      expect(listReads.length).toBe(readsWhenHidden);

      await setVisibility(page, 'visible');
      await expect
        .poll(() => entry.locator('.status').textContent(), { timeout: 40_000, interval: 200 })
        .toBe('completed');
      // Every listed batch has ended: no more reads.
      const readsWhenEnded = listReads.length;
      await new Promise((resolve) => setTimeout(resolve, 4000));
      expect(listReads.length).toBe(readsWhenEnded);
      expect(readsWhenEnded).toBeGreaterThan(readsWhenHidden);
    },
    TEST_TIMEOUT_MS,
  );
});

/**
 * The key-privacy test has a runtime of its own, whose every function logs the event it is
 * invoked with (at INFO), so the output holds each request the page made: searched for the key,
 * it tells what the page sent. Its owner's key is given to `serve`, which never prints a key it
 * is given, and is not of the `sk_` shape (a key may be any run of non-space characters): the
 * logger scrubs `sk_` keys from every entry, which would hide a leak from the search, and what
 * is searched for is the page's conduct, not the logger's.
 */
describe('the console and the key', () => {
  const privateKey = `console-private-${randomBytes(24).toString('hex')}`;
  let watched: ServedRuntime;

  beforeAll(async () => {
    watched = await serve({
      simLatencyMs: 1500,
      readyTimeoutMs: FIRST_START_MS,
      env: {
        SPARK_T2I_API_KEYS: `private:${privateKey}`,
        SPARK_T2I_FUNCTION_LOG_EVENT: 'true',
        SPARK_T2I_FUNCTION_LOG_LEVEL: 'INFO',
      },
    });
  }, FIRST_START_MS);

  afterAll(async () => {
    await watched?.stop();
  });

  it(
    'never puts the API key in a URL, storage, a console message, the runtime’s log or the page, and forgets it on sign out',
    async () => {
      const logFrom = watched.output().length;
      context = await browser.newContext();
      const page = await context.newPage();
      const traffic = watchTraffic(page);
      await page.goto(`${watched.endpoints.api}/`);
      const keyField = page.getByLabel('API key');
      expect(await keyField.getAttribute('type')).toBe('password');
      await keyField.fill(privateKey);
      const shown: Record<string, string[]> = { 'sign in': await shownSecret(page, privateKey) };
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByLabel('Prompt', { exact: true }).fill('a private key test');
      shown.create = await shownSecret(page, privateKey);
      await page.getByRole('button', { name: 'Generate', exact: true }).click();
      await page
        .getByRole('img', { name: 'a private key test', exact: true })
        .waitFor({ timeout: 30_000 });
      shown.result = await shownSecret(page, privateKey);
      await page.getByRole('button', { name: 'Gallery' }).click();
      await page.getByRole('img', { name: 'a private key test', exact: true }).waitFor();
      shown.gallery = await shownSecret(page, privateKey);
      await page.getByRole('button', { name: 'a private key test' }).first().click();
      await page.locator('dl').getByText('SHA-256', { exact: true }).waitFor();
      shown.detail = await shownSecret(page, privateKey);
      await page.getByRole('button', { name: 'Batches' }).click();
      await page.getByLabel('Prompt file').setInputFiles({
        name: 'private.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('a private batch line\n'),
      });
      await page.locator('#batch-heading + p').getByText('private.txt').waitFor();
      shown.batches = await shownSecret(page, privateKey);
      const kept = await keptByBrowser(page, context);
      const log = watched.output().slice(logFrom);

      // The watch saw the key where it belongs, and the log holds this run's requests.
      expect(traffic.authorizations).toContain(`Bearer ${privateKey}`);
      expect(log).toMatch(/"authorization": "\[redacted\]"/i);
      expect(kept.sessionStorage[KEY_ITEM]).toBe(privateKey);
      const traces = tracesOf(privateKey, { traffic, kept, log, shown });
      expect(traces).toEqual(noTraces(Object.keys(shown)));

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('API key').waitFor();
      expect(JSON.stringify(await keptByBrowser(page, context))).not.toContain(privateKey);
    },
    TEST_TIMEOUT_MS,
  );
});
