/**
 * Writes docs/console-<view>.png, the console's screenshots (1280×800, the viewport only): sign
 * in, the Create form with a result, the gallery, a generation's detail, and a finished batch with
 * its counts and report. It runs the console as the browser test does: `serve` with the simulator
 * (its striped images are a function of prompt, seed and size, so the pictures are the same every
 * run), and the Chromium of `@sparticuz/chromium` driven by `playwright-core`.
 *
 * The API key must never be in a picture: the page shows it only in a password field, and every
 * shot first checks that neither the page's visible text nor any field's value holds it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

const PROJECT_ROOT = join(import.meta.dirname, '..');
const DOCS = import.meta.dirname;
const VIEWPORT = { width: 1280, height: 800 };
/** How long the page may take to show what is expected (the machine may be busy). */
const EVENTUALLY_MS = 30_000;

// The synthesis cache `npm start` uses (under its gitignored data dir): a second run starts in
// seconds. Set before the helper is loaded, which otherwise makes a temp cache of its own.
process.env.SPARK_T2I_TEST_CACHE_DIR ??= join(PROJECT_ROOT, '.spark-t2i', 'cache');
const { serve, submit, waitForTerminal } = await import('../test/helpers/serve.ts');
const { launchBrowser } = await import('../test/helpers/browser.ts');

const dataDir = mkdtempSync(join(tmpdir(), 'spark-t2i-screenshots-'));
// A short simulated task: each view's content is there within a few seconds.
const runtime = await serve({ dataDir, simLatencyMs: 1500, readyTimeoutMs: 240_000 });
const browser = await launchBrowser();
const written: string[] = [];

/** Fails when the key is in the page's visible text or in any field's value. */
async function assertNoKey(page: Page, view: string): Promise<void> {
  // Evaluated in the page (a string: this code is compiled without the DOM's types).
  const shown = await page.evaluate<string>(
    "document.body.innerText + '\\n' + [...document.querySelectorAll('input, textarea')].map((e) => e.value).join('\\n')",
  );
  if (shown.includes(runtime.apiKey)) {
    throw new Error(`the API key is shown on the ${view} view: no screenshot taken`);
  }
}

async function shoot(page: Page, view: string): Promise<void> {
  await assertNoKey(page, view);
  // No caret or hover effect that depends on timing.
  await page.mouse.move(0, 0);
  const file = join(DOCS, `console-${view}.png`);
  await page.screenshot({ path: file, fullPage: false, animations: 'disabled', caret: 'hide' });
  written.push(file);
}

/** Scrolls the page so that the element `selector` names starts `margin` pixels below the top. */
async function scrollAbove(page: Page, selector: string, margin: number): Promise<void> {
  await page.evaluate(
    `window.scrollTo(0, document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect().top + window.scrollY - ${margin})`,
  );
}

/** Waits until the image named `alt` has loaded. */
async function imageLoaded(page: Page, alt: string): Promise<void> {
  await page
    .getByRole('img', { name: alt, exact: true })
    .first()
    .waitFor({ timeout: EVENTUALLY_MS });
  // Polled from here: `waitForFunction` polls by evaluating the string inside the page, which the
  // page's content security policy (no 'unsafe-eval') refuses.
  const check = `[...document.images].some((i) => i.alt === ${JSON.stringify(alt)} && i.complete && i.naturalWidth > 0)`;
  const deadline = Date.now() + EVENTUALLY_MS;
  while (!(await page.evaluate<boolean>(check))) {
    if (Date.now() > deadline) throw new Error(`the image "${alt}" did not load`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

try {
  // Earlier generations for the gallery, with fixed seeds: the same pictures every run.
  const earlier = [
    { prompt: 'a lighthouse at dawn', seed: 1101 },
    { prompt: 'a harbour in the rain', seed: 2202, width: 1472, height: 1104 },
  ];
  for (const request of earlier) await waitForTerminal(runtime, await submit(runtime, request));

  const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light' });
  const page = await context.newPage();
  await page.goto(`${runtime.endpoints.api}/`);

  const keyField = page.getByLabel('API key');
  await keyField.waitFor();
  if ((await keyField.inputValue()) !== '') throw new Error('the key field is not empty');
  await shoot(page, 'sign-in');

  await keyField.fill(runtime.apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const prompt = page.getByLabel('Prompt', { exact: true });
  await prompt.waitFor();
  await prompt.fill('a red fox in the snow');
  await page.getByLabel('Seed', { exact: true }).fill('3303');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await imageLoaded(page, 'a red fox in the snow');
  await shoot(page, 'generate');

  await page.getByRole('button', { name: 'Gallery' }).click();
  for (const alt of ['a red fox in the snow', 'a lighthouse at dawn', 'a harbour in the rain']) {
    await imageLoaded(page, alt);
  }
  await shoot(page, 'gallery');

  await page.getByRole('button', { name: 'a harbour in the rain' }).first().click();
  await page.locator('dl').getByText('SHA-256', { exact: true }).waitFor();
  await imageLoaded(page, 'a harbour in the rain');
  // The image fills the first screen: framed from its lower part, the details show below it.
  await scrollAbove(page, 'dl', 300);
  await shoot(page, 'detail');

  await page.getByRole('button', { name: 'Batches' }).click();
  const lines = [
    { prompt: 'a paper boat on a pond', seed: 4404 },
    { prompt: 'a size the provider refuses', width: 100, height: 100 },
    { prompt: 'a kite over the dunes', seed: 5505 },
  ];
  await page.getByLabel('Prompt file').setInputFiles({
    name: 'prompts.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from(lines.map((line) => JSON.stringify(line)).join('\n')),
  });
  await page
    .locator('#batch-heading + p .status')
    .getByText(/^(completed|failed|cancelled)$/)
    .waitFor({ timeout: EVENTUALLY_MS });
  await page.getByRole('button', { name: 'Show report' }).click();
  await page.getByRole('row', { name: /^2 / }).waitFor({ timeout: EVENTUALLY_MS });
  // From the batch's heading: its status, counts and the whole report on one screen.
  await scrollAbove(page, '#batch-heading', 24);
  await shoot(page, 'batches');

  await context.close();
} finally {
  await browser.close();
  await runtime.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

for (const file of written) console.log(`wrote ${file}`);
