// Drives the storefront in Debian's Chromium against a running tessera server, as a shopper
// would: typing, searching with a photo and refining it with words, switching language, opening
// a product, adding it to the cart and erasing the profile.
//
//   TESSERA_URL=http://127.0.0.1:PORT TESSERA_PHOTO=/path/to/photo.jpg node storefront.mjs
//
// Prints one line per case and exits with 1 when any case fails. CHROMIUM overrides the browser
// (default /usr/bin/chromium).
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const base = process.env.TESSERA_URL;
const photo = process.env.TESSERA_PHOTO;
if (!base || !photo) {
  console.error('set TESSERA_URL to the server (http://127.0.0.1:PORT) and TESSERA_PHOTO to a JPEG file');
  process.exit(2);
}
// Only loopback servers: these tests never aim at another machine.
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(base)) {
  console.error(`TESSERA_URL is '${base}': use http://127.0.0.1:PORT`);
  process.exit(2);
}

const TIMEOUT_MS = 30000;

// Resolves with the first request whose path is `path` and whose query has every pair of `params`.
function nextRequest(page, path, params = {}) {
  return page.waitForRequest((request) => {
    const url = new URL(request.url());
    if (url.pathname !== path) return false;
    return Object.entries(params).every(([key, value]) => url.searchParams.get(key) === value);
  }, { timeout: TIMEOUT_MS });
}

async function resultCount(page) {
  return page.locator('#results-grid li.card').count();
}

async function waitForResults(page) {
  await page.locator('#results-grid li.card').first().waitFor({ timeout: TIMEOUT_MS });
}

const cases = [
  ['typing a query shows results', async (page) => {
    const search = nextRequest(page, '/api/search', { q: 'shirt' });
    await page.locator('#search-input').fill('shirt');
    await search;
    await waitForResults(page);
    assert.ok(await resultCount(page) > 0);
  }],

  ['a photo searches, and words refine it', async (page) => {
    const photoSearch = nextRequest(page, '/api/search/image');
    await page.locator('#photo-input').setInputFiles(photo);
    const first = await photoSearch;
    assert.equal(new URL(first.url()).searchParams.get('q'), null, 'the photo alone has no words');
    await waitForResults(page);
    assert.ok(await page.locator('#query-image').isVisible(), 'the query photo is shown');

    const refined = nextRequest(page, '/api/search/image', { q: 'red' });
    await page.locator('#search-input').fill('red ');
    const request = await refined;
    assert.equal(request.method(), 'POST');
    assert.match(request.headers()['content-type'] ?? '', /^image\//, 'the photo is posted with the words');
    await page.locator('#query-text').filter({ hasText: 'red' }).waitFor({ timeout: TIMEOUT_MS });
    await page.locator('#results-grid li.card .card-meta').first().filter({ hasText: 'Red' })
      .waitFor({ timeout: TIMEOUT_MS });
    assert.ok(await page.locator('#query-image').isVisible(), 'the photo stays while refining');
    assert.match(await page.locator('#search-input').getAttribute('placeholder'), /Refine/);

    const textOnly = nextRequest(page, '/api/search', { q: 'watch' });
    await page.locator('#clear-query').click();
    assert.ok(await page.locator('#query-image').isHidden(), 'Clear drops the photo');
    await page.locator('#search-input').fill('watch');
    await textOnly;
  }],

  ['the language switch translates the page', async (page) => {
    await page.locator('button[data-lang="zh-CN"]').click();
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    assert.match(await page.locator('#search-input').getAttribute('placeholder'), /搜索/);
    await page.locator('button[data-lang="en"]').click();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    assert.match(await page.locator('#search-input').getAttribute('placeholder'), /Search/);
  }],

  ['adding to the cart builds the profile, and erasing clears it', async (page) => {
    const shopper = `browser-${Date.now()}`;
    await page.locator('#shopper-id').fill(shopper);
    const search = nextRequest(page, '/api/search', { q: 'shirt', user: shopper });
    await page.locator('#search-input').fill('shirt');
    await search;
    await waitForResults(page);

    await page.locator('#results-grid li.card .card-open').first().click();
    await page.locator('#detail').waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    const cart = page.waitForResponse((response) => new URL(response.url()).pathname === '/api/events' &&
      response.request().postData()?.includes('add_to_cart'), { timeout: TIMEOUT_MS });
    await page.locator('#add-to-cart').click();
    assert.equal((await cart).status(), 200);
    await page.keyboard.press('Escape');
    await page.locator('#profile-affinities .affinity-group').first()
      .waitFor({ timeout: TIMEOUT_MS });

    page.once('dialog', (dialog) => dialog.accept());
    const erase = page.waitForResponse((response) => response.request().method() === 'DELETE', { timeout: TIMEOUT_MS });
    await page.locator('#erase-data').click();
    assert.equal((await erase).status(), 200);
    await page.waitForFunction(() => document.querySelector('#profile-affinities').children.length === 0,
      null, { timeout: TIMEOUT_MS });
  }],
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // Chromium refuses to start as root with its sandbox on, and CI may run the tests as root.
  args: ['--no-sandbox'],
});
let failed = 0;
try {
  for (const [name, run] of cases) {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (error) => errors.push(error.message));
    try {
      await page.goto(base, { timeout: TIMEOUT_MS });
      await run(page);
      assert.deepEqual(errors, [], 'the page threw no errors');
      console.log(`ok   ${name}`);
    } catch (error) {
      failed += 1;
      console.log(`FAIL ${name}: ${error.message}`);
    } finally {
      await context.close();
    }
  }
} finally {
  await browser.close();
}
process.exit(failed === 0 ? 0 : 1);
