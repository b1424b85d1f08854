// The explorer page in a real headless Chromium against the real service: a
// tiny checkpoint trained here, served on a free loopback port with a small
// gallery. The page loads the model, a gallery click lists real neighbour
// images with their ranks, a QA+ attack shows its three images, the measure and
// the candidate pulled up the ranking; a swipe streams its progress to the end
// and another is cancelled; the Runs tab shows the run's plot; the page logs no
// console errors; behind a token, the page asks for it once. A screenshot of the Explore tab is saved in
// dist/test-output/explorer/. The page's modules are built first (src/web/tsconfig.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../src/serve/server.js';
import { trainTinyRun } from './helpers/tiny-run.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUTPUT = path.join(ROOT, 'dist', 'test-output', 'explorer');
const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'explorer-test-token-0123456789';

/** Debian's Chromium, headless; a clear message when it is missing (the test fails, it does not skip). */
async function launch(): Promise<Browser> {
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
    });
  } catch (e) {
    throw new Error(
      `the explorer test drives Debian's Chromium at ${CHROMIUM}, which did not start: ${(e as Error).message.split('\n')[0]}\n` +
        'Install it with `bash scripts/setup.sh --test` (or `sudo apt-get install chromium`); `npm test` runs that set-up first.',
    );
  }
}

const $ = (id: string): string => `[data-testid="${id}"]`;

/** Runs `js` (an expression) in the page; in-page code is text here, as the tests compile without DOM types. */
async function inPage<T>(page: Page, js: string): Promise<T> {
  return (await page.evaluate(js)) as T;
}

/** Waits until every <img> under `selector` has loaded a real picture, and returns their natural widths. */
async function loadedWidths(page: Page, selector: string): Promise<number[]> {
  const imgs = `[...document.querySelectorAll(${JSON.stringify(`${selector} img`)})]`;
  await page.waitForFunction(`${imgs}.length > 0 && ${imgs}.every((i) => i.complete && i.naturalWidth > 0)`, undefined, { timeout: 15_000 });
  return inPage<number[]>(page, `${imgs}.map((i) => i.naturalWidth)`);
}

/** A data attribute of every element matching `selector`, as numbers. */
async function numbers(page: Page, selector: string, attribute: string): Promise<number[]> {
  const all = page.locator(selector);
  const out: number[] = [];
  for (let i = 0; i < (await all.count()); i++) out.push(Number(await all.nth(i).getAttribute(attribute)));
  return out;
}

test('the page builds (src/web/*.ts → dist/src/web/)', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'src', 'web', 'tsconfig.json')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `tsc on src/web:\n${r.stdout}${r.stderr}`);
});

test('explorer: search a gallery image, run QA+, see the runs — in Chromium against the real service', async () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'rankshield-explorer-'));
  const t0 = performance.now();
  const lap = (what: string): void => console.log(`${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const GALLERY = 400;
  const { dir: run } = await trainTinyRun(path.join(work, 'runs'), { gallery: GALLERY });
  lap('trained');
  let server: RunningServer | undefined;
  let guarded: RunningServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await startServer({
      checkpoint: run,
      host: '127.0.0.1',
      port: 0,
      token: null,
      concurrency: 1,
      maxQueued: 4,
      device: 'cpu',
      maxGallery: GALLERY,
      progress: false,
    });
    lap('serving');
    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
    await page.goto(server.url);

    // Header: the run's name (not a path) and its benign R@1.
    await page.waitForFunction(`document.querySelector('${$('model-name')}')?.textContent === 'tiny-fashion'`);
    assert.match((await page.textContent($('benign-r1'))) ?? '', /^benign R@1 \d+\.\d %$/);

    // Gallery → search: ten neighbours with real images, ranked 1..10.
    lap('page loaded');
    const cells = page.locator($('gallery-item'));
    await cells.first().waitFor();
    assert.equal(await cells.count(), 60, 'one page of the gallery');
    const queryId = Number(await cells.nth(5).getAttribute('data-id'));
    await cells.nth(5).click();
    await page
      .locator(`${$('topk')} ${$('topk-item')}`)
      .nth(9)
      .waitFor();
    assert.deepEqual(await numbers(page, `${$('topk')} ${$('topk-item')}`, 'data-rank'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const ids = await numbers(page, `${$('topk')} ${$('topk-item')}`, 'data-id');
    assert.equal(new Set(ids).size, 10, `ten distinct gallery images for query #${queryId}`);
    for (const w of await loadedWidths(page, $('topk'))) assert.equal(w, 28);
    // Classes go by Fashion-MNIST's names: the filter chips, the cells and the neighbours' badges.
    const fashion = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
    assert.deepEqual(await page.locator(`${$('label-filter')} .filter`).allTextContents(), ['all', ...fashion]);
    for (const t of await page.locator(`${$('topk')} .label-badge`).allTextContents()) assert.ok(fashion.includes(t), `badge '${t}' is a class name`);
    assert.match(
      (await page.textContent($('query-caption'))) ?? '',
      new RegExp(`^gallery #${queryId} · (${fashion.join('|').replace('/', '\\/')}) \\(\\d\\)$`),
    );
    assert.equal((await loadedWidths(page, $('query')))[0], 28);

    // QA+ with a few steps: the button is busy while it runs, then the result shows.
    // An uploaded picture as the query: the page sends it, the neighbours come back.
    const png = Buffer.from(await (await fetch(`${server.url}/api/images/gallery/7.png`)).arrayBuffer());
    await page.setInputFiles($('upload-input'), { name: 'shoe.png', mimeType: 'image/png', buffer: png });
    await page.waitForFunction(`document.querySelector('${$('query-caption')}').textContent === 'upload shoe.png'`);
    await page.waitForFunction(`document.querySelectorAll('${$('topk')} ${$('topk-item')}').length === 10`);
    assert.equal(await page.getAttribute(`${$('topk')} ${$('topk-item')}:first-child`, 'data-id'), '7', 'gallery image 7, uploaded, finds itself first');
    await cells.nth(5).click();
    await page.waitForFunction(`document.querySelector('${$('query-caption')}').textContent.startsWith('gallery #${queryId}')`);
    lap('searched');
    await page.selectOption($('attack-select'), 'QA+');
    await page.fill($('steps'), '4');
    // Watch the button from inside the page: the attack may be quicker than a poll from here.
    await inPage(
      page,
      `(() => {
      const button = document.querySelector('${$('run-attack')}');
      window.sawBusy = false;
      new MutationObserver(() => {
        if (button.disabled && !button.querySelector('.spinner').hidden) window.sawBusy = true;
      }).observe(button, { attributes: true, subtree: true });
    })()`,
    );
    await page.click($('run-attack'));
    await page.locator($('result')).waitFor({ timeout: 30_000 });
    assert.equal(await inPage(page, 'window.sawBusy'), true, 'disabled with a spinner while running');
    assert.equal(await page.isDisabled($('run-attack')), false, 'enabled again afterwards');
    assert.equal(await page.isHidden($('attack-error')), true, (await page.textContent($('attack-error'))) ?? '');
    for (const img of ['result-query', 'result-perturbation', 'result-adversarial']) {
      const w = await page.waitForFunction(`(() => { const i = document.querySelector('${$(img)}'); return i.complete && i.naturalWidth; })()`);
      assert.equal(await w.jsonValue(), 28, `${img} is a 28×28 picture`);
    }
    assert.match((await page.textContent($('perturbation-scale'))) ?? '', /^×\d+(\.\d)?$/);
    const measure = (await page.textContent($('measure'))) ?? '';
    assert.match(measure, /QA\+.*-?\d+(\.\d+)? → -?\d+(\.\d+)?/, `measure shown: ${measure}`);
    await page
      .locator(`${$('topk-after')} ${$('topk-item')}`)
      .nth(9)
      .waitFor();
    // The candidate QA+ pulls towards the query: its rank number after is smaller (better) than before.
    const before = await numbers(page, $('candidate-row'), 'data-rank-before');
    const after = await numbers(page, $('candidate-row'), 'data-rank-after');
    assert.equal(before.length, 1, 'QA+ has one candidate (M = 1)');
    assert.ok(after[0]! < before[0]!, `candidate rank ${before[0]} → ${after[0]}: QA+ moves it up`);

    lap('attacked');
    mkdirSync(OUTPUT, { recursive: true });
    // Back to the top (the result scrolled into view smoothly) so that the sticky header sits at the top of the picture.
    await page.waitForFunction('(window.scrollTo({ top: 0, behavior: "instant" }), window.scrollY === 0)');
    await page.waitForTimeout(200);
    await page.screenshot({ path: path.join(OUTPUT, 'explore.png'), fullPage: true });

    // Swipe: a small one to the end (progress streamed, ERS, table, chart), then one cancelled.
    await page.click($('tab-swipe'));
    assert.equal(await page.inputValue($('swipe-profile')), 'rob28', 'the profile for 28×28 images is the default');
    await page.fill($('swipe-max'), '4');
    await page.click($('swipe-start'));
    await page.locator($('swipe-result')).waitFor({ timeout: 60_000 });
    lap('swiped');
    assert.equal(await inPage(page, `document.querySelector('${$('swipe-progress')}').style.width`), '100%');
    assert.match((await page.textContent($('swipe-ers'))) ?? '', /^-?\d+\.\d$/);
    assert.match((await page.textContent($('swipe-ars'))) ?? '', /^(-?\d+\.\d|n\/a)$/);
    assert.equal(await page.textContent($('swipe-queries')), '4');
    const columns = await page.locator(`${$('swipe-table')} tbody th`).allTextContents();
    for (const c of ['CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES:D', 'ES:R', 'LTM', 'GTM', 'GTT']) assert.ok(columns.includes(c), `the table has ${c}`);
    for (const w of await loadedWidths(page, $('swipe-result'))) assert.ok(w > 100, 'the chart is drawn');
    await page.screenshot({ path: path.join(OUTPUT, 'swipe.png'), fullPage: true });
    await page.fill($('swipe-max'), '24');
    await page.click($('swipe-start'));
    await page.waitForFunction(
      `document.querySelector('${$('swipe-progress')}').style.width !== '0.0%' && document.querySelector('${$('swipe-progress')}').style.width !== ''`,
    );
    await page.click($('swipe-cancel'));
    await page.locator($('swipe-error')).waitFor();
    assert.equal(await page.textContent($('swipe-error')), 'swipe cancelled');
    assert.equal(await page.isEnabled($('swipe-start')), true, 'a new swipe can start');
    lap('cancelled');

    // Runs: the served run with its training plot.
    await page.click($('tab-runs'));
    const card = page.locator($('run-card'));
    await card.first().waitFor();
    assert.match((await card.first().textContent()) ?? '', /tiny-fashion/);
    for (const w of await loadedWidths(page, $('runs-list'))) assert.ok(w > 100, 'a plot, not a broken image');
    await page.screenshot({ path: path.join(OUTPUT, 'runs.png') });

    assert.deepEqual(problems, [], 'no console errors');

    // With a token: the page asks once, then sends it (images too) and remembers it for the tab.
    guarded = await startServer({
      checkpoint: run,
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      concurrency: 1,
      maxQueued: 4,
      device: 'cpu',
      maxGallery: GALLERY,
      progress: false,
    });
    const locked = await browser.newPage();
    await locked.goto(guarded.url);
    await locked.locator($('token-dialog')).waitFor();
    await locked.fill($('token-input'), TOKEN);
    await locked.click($('token-save'));
    await locked.locator($('gallery-item')).first().waitFor();
    assert.equal(await locked.textContent($('model-name')), 'tiny-fashion');
    for (const w of (await loadedWidths(locked, $('gallery'))).slice(0, 5)) assert.equal(w, 28);
    await locked.reload();
    await locked.locator($('gallery-item')).first().waitFor();
    assert.equal(await locked.isVisible($('token-dialog')), false, 'asked once per tab');
    lap('token');
  } finally {
    await browser?.close();
    await server?.close();
    await guarded?.close();
  }
});
