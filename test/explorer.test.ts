// The explorer page in a real headless Chromium against the real service: a
// tiny checkpoint trained here, served on a free loopback port with a small
// gallery. The page loads the model, a gallery click lists real neighbour
// images with their ranks, a QA+ attack shows its three images, the measure and
// the candidate pulled up the ranking; the Runs tab shows the run's plot; the
// page logs no console errors. A screenshot of the Explore tab is saved in
// dist/test-output/explorer/. app.js type-checks with its JSDoc types.
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

/** Waits until every <img> under `selector` has loaded a real picture, and returns their natural widths. */
async function loadedWidths(page: Page, selector: string): Promise<number[]> {
  await page.waitForFunction(
    (sel) => {
      const imgs = [...document.querySelectorAll<HTMLImageElement>(`${sel} img`)];
      return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    },
    selector,
    { timeout: 15_000 },
  );
  return page.$$eval(`${selector} img`, (imgs) => (imgs as HTMLImageElement[]).map((i) => i.naturalWidth));
}

test('app.js type-checks (// @ts-check, JSDoc types)', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'src', 'web', 'tsconfig.json')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc on src/web:\n${r.stdout}${r.stderr}`);
});

test('explorer: search a gallery image, run QA+, see the runs — in Chromium against the real service', async () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'rankshield-explorer-'));
  const run = await trainTinyRun(path.join(work, 'runs'));
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await startServer({ checkpoint: run, host: '127.0.0.1', port: 0, token: null, concurrency: 1, maxQueued: 4, device: 'cpu', maxGallery: 400, progress: false });
    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
    await page.goto(server.url);

    // Header: the run's name (not a path) and its benign R@1.
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'tiny-fashion', $('model-name'));
    assert.match((await page.textContent($('benign-r1'))) ?? '', /^benign R@1 \d+\.\d %$/);

    // Gallery → search: ten neighbours with real images, ranked 1..10.
    const cells = page.locator($('gallery-item'));
    await cells.first().waitFor();
    assert.equal(await cells.count(), 60, 'one page of the gallery');
    const queryId = Number(await cells.nth(5).getAttribute('data-id'));
    await cells.nth(5).click();
    await page.locator(`${$('topk')} ${$('topk-item')}`).nth(9).waitFor();
    const ranks = await page.$$eval(`${$('topk')} ${$('topk-item')}`, (items) => items.map((i) => Number((i as HTMLElement).dataset.rank)));
    assert.deepEqual(ranks, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const ids = await page.$$eval(`${$('topk')} ${$('topk-item')}`, (items) => items.map((i) => Number((i as HTMLElement).dataset.id)));
    assert.ok(!ids.includes(queryId), 'the query is not its own neighbour');
    for (const w of await loadedWidths(page, $('topk'))) assert.equal(w, 28);
    assert.equal((await loadedWidths(page, $('query')))[0], 28);

    // QA+ with a few steps: the button is busy while it runs, then the result shows.
    await page.selectOption($('attack-select'), 'QA+');
    await page.fill($('steps'), '4');
    await page.evaluate((sel) => {
      const button = document.querySelector(sel) as HTMLButtonElement;
      const w = window as unknown as { sawBusy: boolean };
      w.sawBusy = false;
      new MutationObserver(() => {
        if (button.disabled && !(button.querySelector('.spinner') as HTMLElement).hidden) w.sawBusy = true;
      }).observe(button, { attributes: true, subtree: true });
    }, $('run-attack'));
    await page.click($('run-attack'));
    await page.locator($('result')).waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { sawBusy: boolean }).sawBusy), true, 'disabled with a spinner while running');
    assert.equal(await page.isDisabled($('run-attack')), false, 'enabled again afterwards');
    assert.equal(await page.isHidden($('attack-error')), true, (await page.textContent($('attack-error'))) ?? '');
    for (const img of ['result-query', 'result-perturbation', 'result-adversarial']) {
      const w = await page.waitForFunction((sel) => {
        const i = document.querySelector(sel) as HTMLImageElement;
        return i.complete && i.naturalWidth > 0 && i.naturalWidth;
      }, $(img));
      assert.equal(await w.jsonValue(), 28, `${img} is a 28×28 picture`);
    }
    assert.match((await page.textContent($('perturbation-scale'))) ?? '', /^×\d+(\.\d)?$/);
    const measure = (await page.textContent($('measure'))) ?? '';
    assert.match(measure, /QA\+.*-?\d+(\.\d+)? → -?\d+(\.\d+)?/, `measure shown: ${measure}`);
    await page.locator(`${$('topk-after')} ${$('topk-item')}`).nth(9).waitFor();
    // The candidate QA+ pulls towards the query: its rank number after is smaller (better) than before.
    const rows = await page.$$eval($('candidate-row'), (trs) => trs.map((t) => ({ before: Number((t as HTMLElement).dataset.rankBefore), after: Number((t as HTMLElement).dataset.rankAfter) })));
    assert.equal(rows.length, 1, 'QA+ has one candidate (M = 1)');
    assert.ok(rows[0]!.after < rows[0]!.before, `candidate rank ${rows[0]!.before} → ${rows[0]!.after}: QA+ moves it up`);

    mkdirSync(OUTPUT, { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(OUTPUT, 'explore.png'), fullPage: true });

    // Runs: the served run with its training plot.
    await page.click($('tab-runs'));
    const card = page.locator($('run-card'));
    await card.first().waitFor();
    assert.match((await card.first().textContent()) ?? '', /tiny-fashion/);
    for (const w of await loadedWidths(page, $('runs-list'))) assert.ok(w > 100, 'a plot, not a broken image');
    await page.screenshot({ path: path.join(OUTPUT, 'runs.png') });

    assert.deepEqual(problems, [], 'no console errors');
  } finally {
    await browser?.close();
    await server?.close();
  }
});
