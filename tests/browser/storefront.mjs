// Drives the storefront in Debian's Chromium against a running tessera server, as a shopper
// would. The cases cover typing, facet and price filters, product cards, a photo chosen with the
// picker and one dropped on the page, and voice recorded from Chromium's fake microphone. They
// also open the "why this result" panel, click a product to re-rank the shopper's next results,
// switch the language, and build the shopper's profile and erase it.
//
//   TESSERA_URL=http://127.0.0.1:PORT TESSERA_PHOTO=/path/to/photo.jpg node storefront.mjs [CASE...]
//
// The server must contain at least the first 4,000 products of the fashion catalogue (the slice
// of the end-to-end test). Prints one line per case and exits with 1 when any case fails. With
// arguments, only the cases whose names contain one of them run. CHROMIUM overrides the browser
// (default /usr/bin/chromium). The voice case synthesizes its recording with espeak-ng and sox.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
// A catalogue word the server's recognizer transcribes from espeak-ng's en-us voice. Three
// recordings through the fake microphone were each sent as the first to sixth request of a fresh
// server on the slice. "watch" came out right in 18 of 18 decodes and "leather belt" in 16 of 18
// ("blue belt"), while "blue shirt" gave "blue care" in 3 of 6 runs of this case.
const SPOKEN_QUERY = 'watch';
// Seconds of silence around the spoken words, so that the recording, which starts a moment
// after the fake microphone opens, contains all of them.
const SILENCE_BEFORE_S = 1;
const SILENCE_AFTER_S = 1.5;
const RECORDING_MS = 4000;

// Writes SPOKEN_QUERY as a WAV file for Chromium's fake microphone and returns its path.
function synthesizeSpeech(folder) {
  const spoken = join(folder, 'spoken.wav');
  const padded = join(folder, 'voice.wav');
  try {
    execFileSync('espeak-ng', ['-v', 'en-us', '-s', '140', '-w', spoken, SPOKEN_QUERY]);
    execFileSync('sox', [spoken, padded, 'pad', String(SILENCE_BEFORE_S), String(SILENCE_AFTER_S)]);
  } catch (error) {
    throw new Error(`synthesizing "${SPOKEN_QUERY}" failed (${error.message}): ` +
      'install espeak-ng and sox, for example with scripts/setup.sh');
  }
  return padded;
}

// Marks `promise` as handled, so that a case failing before it awaits the promise does not end
// the run with an unhandled rejection when the page closes. Awaiting it still throws.
function awaitable(promise) {
  promise.catch(() => {});
  return promise;
}

// Resolves with the first request whose path is `path` and whose query has every pair of `params`.
function nextRequest(page, path, params = {}) {
  return awaitable(page.waitForRequest((request) => matches(request.url(), path, params), { timeout: TIMEOUT_MS }));
}

// Resolves with the parsed body of the first response to such a request.
function nextResponseJson(page, path, params = {}) {
  return awaitable(page.waitForResponse((candidate) => matches(candidate.url(), path, params), { timeout: TIMEOUT_MS })
    .then((response) => {
      assert.equal(response.status(), 200, `${path} returned HTTP ${response.status()}`);
      return response.json();
    }));
}

// Resolves with the first response to POST /api/events whose body contains `type`.
function nextEvent(page, type) {
  return awaitable(page.waitForResponse((response) => new URL(response.url()).pathname === '/api/events' &&
    response.request().postData()?.includes(`"${type}"`), { timeout: TIMEOUT_MS }));
}

// Chromium does not report the bodies of Blob uploads to playwright, so the page keeps a copy of
// each Blob it posts to one of `paths` in window.uploads, read back with uploadedBytes().
function recordUploads(page, paths) {
  return page.addInitScript((uploadPaths) => {
    window.uploads = [];
    const originalFetch = window.fetch;
    window.fetch = async (resource, options = {}) => {
      const url = new URL(String(resource), window.location.href);
      if (uploadPaths.includes(url.pathname) && options.body instanceof Blob) {
        window.uploads.push({ type: options.body.type, bytes: Array.from(new Uint8Array(await options.body.arrayBuffer())) });
      }
      return originalFetch(resource, options);
    };
  }, paths);
}

async function uploadedBytes(page) {
  const uploads = await page.evaluate(() => window.uploads);
  assert.equal(uploads.length, 1, 'the page posted one file');
  return { type: uploads[0].type, bytes: Buffer.from(uploads[0].bytes) };
}

function matches(address, path, params) {
  const url = new URL(address);
  if (url.pathname !== path) return false;
  return Object.entries(params).every(([key, value]) => url.searchParams.get(key) === value);
}

async function resultCount(page) {
  return page.locator('#results-grid li.card').count();
}

async function waitForResults(page) {
  await page.locator('#results-grid li.card').first().waitFor({ timeout: TIMEOUT_MS });
}

async function cardIds(page, response) {
  // The cards carry no ids, so match their titles against the response that drew them.
  const titles = await page.locator('#results-grid li.card .card-open').allTextContents();
  assert.deepEqual(titles, response.results.map((r) => r.title || r.id), 'the cards show the response');
  return response.results.map((r) => r.id);
}

// Texts of a filter's options, such as "Men (208)".
async function optionTexts(page, selector) {
  return page.locator(`${selector} option`).allTextContents();
}

async function useShopper(page, prefix) {
  const shopper = `${prefix}-${Date.now()}`;
  await page.locator('#shopper-id').fill(shopper);
  await page.locator('#shopper-id').dispatchEvent('change');
  return shopper;
}

// Returns the WAV header fields of `bytes`, a Buffer.
function wavFormat(bytes) {
  return {
    riff: bytes.toString('ascii', 0, 4),
    wave: bytes.toString('ascii', 8, 12),
    format: bytes.readUInt16LE(20),
    channels: bytes.readUInt16LE(22),
    sampleRate: bytes.readUInt32LE(24),
    bitsPerSample: bytes.readUInt16LE(34),
    dataBytes: bytes.readUInt32LE(40),
  };
}

const cases = [
  ['results appear while typing', async (page) => {
    const partial = nextRequest(page, '/api/search', { q: 'shi', prefix: 'true' });
    await page.locator('#search-input').pressSequentially('shi', { delay: 40 });
    await partial;
    await waitForResults(page);
    assert.ok(await resultCount(page) > 0, 'the unfinished word "shi" already finds products');

    const whole = nextResponseJson(page, '/api/search', { q: 'shirt' });
    await page.locator('#search-input').pressSequentially('rt', { delay: 40 });
    const response = await whole;
    await page.locator('#results-grid li.card .card-meta').first().filter({ hasText: 'Shirts' })
      .waitFor({ timeout: TIMEOUT_MS });
    await cardIds(page, response);
    assert.match(await page.locator('#results-summary').textContent(), /results/);
  }],

  ['a facet filter changes the counts and the results', async (page) => {
    const unfiltered = nextResponseJson(page, '/api/search', { q: 'shirt' });
    await page.locator('#search-input').fill('shirt ');
    const before = await unfiltered;
    await waitForResults(page);
    const gendersBefore = await optionTexts(page, '#filter-gender');
    assert.ok((await optionTexts(page, '#filter-colour')).some((text) => /^Red \(\d+\)$/.test(text)),
      'the colour filter lists Red with its count');

    const filtered = nextResponseJson(page, '/api/search', { q: 'shirt', colour: 'Red' });
    await page.locator('#filter-colour').selectOption('Red');
    const after = await filtered;
    await page.waitForFunction((total) => document.querySelector('#results-summary').textContent
      .startsWith(`${total} result`), after.total, { timeout: TIMEOUT_MS });
    assert.ok(after.total < before.total, `Red narrows ${before.total} results to ${after.total}`);
    for (const meta of await page.locator('#results-grid li.card .card-meta').allTextContents()) {
      assert.match(meta, /Red/, 'every card is red');
    }
    const gendersAfter = await optionTexts(page, '#filter-gender');
    assert.notDeepEqual(gendersAfter, gendersBefore, 'the gender counts follow the colour filter');
    assert.equal(await page.locator('#filter-colour').inputValue(), 'Red');

    const cleared = nextResponseJson(page, '/api/search', { q: 'shirt' });
    await page.locator('#clear-filters').click();
    assert.equal((await cleared).total, before.total, 'Clear restores the unfiltered results');
  }],

  ['cards show photos and prices', async (page) => {
    await page.locator('#search-input').fill('nike ');
    await waitForResults(page);
    const priced = nextResponseJson(page, '/api/search', { q: 'nike', price_min: '1' });
    await page.locator('#price-min').fill('1');
    const response = await priced;
    assert.ok(response.results.length > 0, 'the slice has priced Nike products');
    await page.waitForFunction((count) => document.querySelectorAll('#results-grid li.card .card-price').length === count,
      response.results.length, { timeout: TIMEOUT_MS });
    const prices = await page.locator('#results-grid li.card .card-price').allTextContents();
    for (const price of prices) assert.match(price, /\d/, `price "${price}" has digits`);
    assert.ok(prices.some((price) => /₹|INR/.test(price)), 'prices show their currency');
    const withPhoto = response.results.filter((r) => r.image_url).length;
    assert.ok(withPhoto > 0, 'the priced products have photos');
    assert.equal(await page.locator('#results-grid li.card .card-media img').count(), withPhoto,
      'every product with a photo shows it');
    // Photos load lazily, so only the first row is sure to have loaded.
    await page.waitForFunction(() => {
      const image = document.querySelector('#results-grid .card-media img');
      return image.complete && image.naturalWidth > 0;
    }, null, { timeout: TIMEOUT_MS });
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

  ['a photo dropped on the page searches', async (page) => {
    // A drop carries the file in a DataTransfer, as when the shopper drags it from the desktop.
    const bytes = readFileSync(photo).toString('base64');
    const dataTransfer = await page.evaluateHandle((encoded) => {
      const data = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([data], 'dropped.jpg', { type: 'image/jpeg' }));
      return transfer;
    }, bytes);

    await page.dispatchEvent('#drop-zone', 'dragenter', { dataTransfer });
    assert.ok(await page.locator('#drop-overlay').isVisible(), 'dragging a file over the page shows the drop hint');
    const search = nextRequest(page, '/api/search/image');
    const results = nextResponseJson(page, '/api/search/image');
    await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });
    const request = await search;
    assert.equal(request.headers()['content-type'], 'image/jpeg');
    assert.ok(readFileSync(photo).equals((await uploadedBytes(page)).bytes), 'the dropped bytes are posted');
    await cardIds(page, await results);
    assert.ok(await page.locator('#drop-overlay').isHidden(), 'the drop hint goes away');
    assert.ok(await page.locator('#query-image').isVisible(), 'the dropped photo is shown');
    assert.match(await page.locator('#query-text').textContent(), /dropped\.jpg/);
  }],

  ['recorded voice is transcribed and searched', async (page) => {
    const record = page.locator('#record-button');
    assert.ok(await record.isEnabled(), 'recording is available on loopback');
    await record.click();
    await page.locator('#record-label').filter({ hasText: 'Stop' }).waitFor({ timeout: TIMEOUT_MS });
    assert.equal(await record.getAttribute('aria-pressed'), 'true');
    await page.waitForTimeout(RECORDING_MS);

    const upload = nextRequest(page, '/api/search/voice');
    const results = nextResponseJson(page, '/api/search/voice');
    await record.click();
    const request = await upload;
    assert.equal(request.headers()['content-type'], 'audio/wav');
    const wav = wavFormat((await uploadedBytes(page)).bytes);
    assert.deepEqual({ ...wav, dataBytes: undefined }, {
      riff: 'RIFF', wave: 'WAVE', format: 1, channels: 1, sampleRate: 16000, bitsPerSample: 16, dataBytes: undefined,
    }, 'the page uploads 16 kHz mono 16-bit PCM WAV');
    // At 16,000 two-byte samples a second, the WAV lasts about as long as the recording.
    const seconds = wav.dataBytes / 32000;
    assert.ok(seconds > RECORDING_MS / 1000 - 1, `the WAV lasts only ${seconds} s`);
    assert.ok(seconds < RECORDING_MS / 1000 + 3, `the WAV lasts ${seconds} s`);

    const response = await results;
    assert.equal(response.transcript?.text, SPOKEN_QUERY, `the recognizer heard "${response.transcript?.text}"`);
    await page.locator('#query-text').filter({ hasText: `“${SPOKEN_QUERY}”` }).waitFor({ timeout: TIMEOUT_MS });
    await cardIds(page, response);
    assert.equal(await page.locator('#search-input').inputValue(), SPOKEN_QUERY, 'the transcript can be edited');
    assert.match(await page.locator('#results-grid li.card .card-meta').first().textContent(), /Watches/);
    assert.equal(await record.getAttribute('aria-pressed'), 'false');
  }],

  ['why this result shows feature contributions', async (page) => {
    await page.locator('#search-input').fill('shirt ');
    await waitForResults(page);
    const explained = nextResponseJson(page, '/api/search', { q: 'shirt', explain: 'true' });
    await page.locator('#why-toggle').check();
    const response = await explained;
    const product = response.results[0];
    assert.ok(product.explain, 'explain=true returns explanations');
    await page.locator('#results-grid li.card .card-why').first().waitFor({ timeout: TIMEOUT_MS });

    let clicks = 0;
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/events') clicks += 1;
    });
    await page.locator('#results-grid li.card .card-why').first().click();
    const panel = page.locator('#why-panel');
    await panel.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    assert.equal(await page.locator('#why-product').textContent(), product.title);
    assert.match(await page.locator('#why-ranker').textContent(), new RegExp(product.explain.ranker));

    // One row per non-zero contribution, plus the bias when there is one, and they add up.
    const contributions = Object.values(product.explain.contributions).filter((value) => value !== 0);
    const rows = page.locator('#why-contributions li');
    const expectedRows = contributions.length + (product.explain.bias !== 0 ? 1 : 0);
    assert.ok(expectedRows > 0, 'the ranker explains its score');
    assert.equal(await rows.count(), expectedRows);
    const displayed = (await page.locator('#why-contributions .contribution-value').allTextContents())
      .map((text) => Number(text.replace(/[^\d.-]/g, '').replace(/^-?$/, '0')));
    const sum = displayed.reduce((total, value) => total + value, 0);
    assert.ok(Math.abs(sum - product.base_score) < 0.001 * displayed.length + 1e-3,
      `the shown contributions add up to the base score ${product.base_score}, not ${sum}`);
    assert.match(await rows.first().textContent(), /[A-Za-z]/, 'each row names its feature');
    assert.match(await page.locator('#why-personal-empty').textContent(), /No personal boost/);

    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'hidden', timeout: TIMEOUT_MS });
    assert.ok(!(await page.locator('#detail').isVisible()), 'the explanation does not open the product');
    assert.equal(clicks, 0, 'opening the explanation records no click');
  }],

  ['a click re-ranks the shopper\'s next results', async (page) => {
    const shopper = await useShopper(page, 'clicker');
    const first = nextResponseJson(page, '/api/search', { q: 'casual shoes', user: shopper });
    await page.locator('#search-input').fill('casual shoes');
    const before = await first;
    await waitForResults(page);
    const idsBefore = await cardIds(page, before);
    assert.equal(before.personalized, false, 'a new shopper gets unpersonalized results');

    // Click a product lower down whose colour the top result does not have.
    const topColour = before.results[0].attributes?.colour;
    const index = before.results.findIndex((r, i) => i >= 5 && r.attributes?.colour && r.attributes.colour !== topColour);
    assert.ok(index > 0, 'a product of another colour lies below the top five');
    const clicked = before.results[index];

    const event = nextEvent(page, 'click');
    await page.locator('#results-grid li.card .card-open').nth(index).click();
    await page.locator('#detail').waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    assert.equal((await event).status(), 200);
    assert.match((await event).request().postData(), new RegExp(`"click".*"${clicked.id}"`));
    await page.locator('#profile-affinities .affinity-group').filter({ hasText: clicked.attributes.colour })
      .waitFor({ timeout: TIMEOUT_MS });

    const next = nextResponseJson(page, '/api/search', { q: 'casual shoes', user: shopper });
    await page.keyboard.press('Escape');
    const after = await next;
    await page.locator('#results-summary').filter({ hasText: 'personalized' }).waitFor({ timeout: TIMEOUT_MS });
    const idsAfter = await cardIds(page, after);
    assert.notDeepEqual(idsAfter, idsBefore, 'the ranking changed');
    const newIndex = idsAfter.indexOf(clicked.id);
    assert.ok(newIndex >= 0, 'the clicked product is still on the first page');
    assert.ok(newIndex < index, `the clicked product moved up from ${index} to ${newIndex}`);
    assert.ok(await page.locator('#results-grid li.card .card-badge').count() > 0, 'boosted results are marked');

    // The clicked product's explanation shows the boost it gets from the shopper's profile.
    const explained = nextResponseJson(page, '/api/search', { q: 'casual shoes', user: shopper, explain: 'true' });
    await page.locator('#why-toggle').check();
    const withReasons = await explained;
    const position = (await cardIds(page, withReasons)).indexOf(clicked.id);
    assert.ok(position >= 0, 'the clicked product is on the explained page');
    await page.locator('#results-grid li.card .card-why').nth(position).click();
    const boosts = page.locator('#why-personal li');
    await boosts.filter({ hasText: `Colour: ${clicked.attributes.colour}` }).waitFor({ timeout: TIMEOUT_MS });
    const amounts = (await page.locator('#why-personal .contribution-value').allTextContents()).map(Number);
    const sum = amounts.reduce((total, value) => total + value, 0);
    const expected = withReasons.results[position].personal_boost;
    assert.ok(Math.abs(sum - expected) < 0.001 * amounts.length + 1e-3,
      `the boost rows add up to the personal boost ${expected}, not ${sum}`);
  }],

  ['the language switch translates the page', async (page) => {
    const english = await page.locator('[data-i18n]').allTextContents();
    await page.locator('button[data-lang="zh-CN"]').click();
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    assert.match(await page.locator('#search-input').getAttribute('placeholder'), /搜索/);
    const chinese = await page.locator('[data-i18n]').allTextContents();
    english.forEach((text, i) => assert.notEqual(chinese[i], text, `"${text}" is translated`));

    // Text drawn from responses follows the switch too.
    await page.locator('#search-input').fill('shirt ');
    await page.locator('#results-summary').filter({ hasText: '个结果' }).waitFor({ timeout: TIMEOUT_MS });
    assert.equal(await page.locator('#filter-gender option').first().textContent(), '全部');
    await page.locator('#why-toggle').check();
    await page.locator('#results-grid li.card .card-why').first().click();
    await page.locator('#why-ranker').filter({ hasText: '排序' }).waitFor({ timeout: TIMEOUT_MS });
    await page.keyboard.press('Escape');

    await page.locator('button[data-lang="en"]').click();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    assert.match(await page.locator('#search-input').getAttribute('placeholder'), /Search/);
    assert.deepEqual(await page.locator('[data-i18n]').allTextContents(), english);
    assert.match(await page.locator('#results-summary').textContent(), /results/);
  }],

  ['the profile shows affinities, and erasing empties it here and on the server', async (page) => {
    const shopper = await useShopper(page, 'eraser');
    const search = nextRequest(page, '/api/search', { q: 'shirt', user: shopper });
    await page.locator('#search-input').fill('shirt');
    await search;
    await waitForResults(page);
    assert.match(await page.locator('#profile-summary').textContent(), /No activity yet/);

    await page.locator('#results-grid li.card .card-open').first().click();
    await page.locator('#detail').waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    const cart = nextEvent(page, 'add_to_cart');
    await page.locator('#add-to-cart').click();
    assert.equal((await cart).status(), 200);
    await page.keyboard.press('Escape');
    await page.locator('#profile-summary').filter({ hasText: '2 events' }).waitFor({ timeout: TIMEOUT_MS });
    await page.locator('#profile-affinities .affinity-group').filter({ hasText: 'Shirts' })
      .waitFor({ timeout: TIMEOUT_MS });
    const stored = await (await page.request.get(`${base}/api/users/${shopper}/profile`)).json();
    assert.equal(stored.events, 2, 'the server holds the click and the cart event');

    page.once('dialog', (dialog) => dialog.accept());
    const erase = awaitable(page.waitForResponse((response) => response.request().method() === 'DELETE',
      { timeout: TIMEOUT_MS }));
    await page.locator('#erase-data').click();
    assert.equal((await erase).status(), 200);
    await page.waitForFunction(() => document.querySelector('#profile-affinities').children.length === 0,
      null, { timeout: TIMEOUT_MS });
    await page.locator('#profile-summary').filter({ hasText: 'No activity yet' }).waitFor({ timeout: TIMEOUT_MS });

    const erased = await (await page.request.get(`${base}/api/users/${shopper}/profile`)).json();
    assert.equal(erased.events, 0, 'the server holds no events of the shopper');
    for (const [facet, values] of Object.entries(erased.affinities ?? {})) {
      assert.deepEqual(values, {}, `the server holds no ${facet} affinity`);
    }
  }],
];

const selected = process.argv.slice(2);
const toRun = cases.filter(([name]) => selected.length === 0 || selected.some((part) => name.includes(part)));
if (toRun.length === 0) {
  console.error(`no case matches ${selected.join(', ')}`);
  process.exit(2);
}

const scratch = mkdtempSync(join(tmpdir(), 'tessera-storefront-'));
let failed = 0;
try {
  const voice = synthesizeSpeech(scratch);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      // Chromium refuses to start as root with its sandbox on, and CI may run the tests as root.
      '--no-sandbox',
      // The microphone is a fake device that plays the WAV file once (%noloop), and the
      // permission prompt is answered yes.
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${voice}%noloop`,
    ],
  });
  try {
    for (const [name, run] of toRun) {
      const context = await browser.newContext({ locale: 'en-US' });
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (error) => errors.push(error.message));
      try {
        await recordUploads(page, ['/api/search/image', '/api/search/voice']);
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
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(failed === 0 ? 0 : 1);
