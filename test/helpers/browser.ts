/**
 * A real Chromium for the console's tests: the one the `@sparticuz/chromium` package ships inside
 * itself (unpacked into the temp folder on first use), driven by `playwright-core`. `npm ci` is
 * all it needs: no browser download, no system package.
 */
import chromium from '@sparticuz/chromium';
import { type Browser, chromium as playwright } from 'playwright-core';

/**
 * Flags of the package's defaults (made for one page in a Lambda function) that a test of a web
 * page must not have: one process for everything, which closing a browser context brings down,
 * and switches that turn off the same-origin policy and mixed-content blocking, which the page's
 * security is tested under.
 */
const LEFT_OUT = new Set([
  '--single-process',
  '--disable-web-security',
  '--allow-running-insecure-content',
  '--disable-site-isolation-trials',
]);

export async function launchBrowser(): Promise<Browser> {
  return playwright.launch({
    executablePath: await chromium.executablePath(),
    args: chromium.args.filter((arg) => !LEFT_OUT.has(arg)),
    headless: true,
  });
}
