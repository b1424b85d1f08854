// Swipes as jobs: POST /api/swipe starts one, its progress streams in as
// server-sent events (read with fetch, so the token header goes along; polled
// when the stream breaks), and the result shows ERS/ARS, every column, the
// chart and the report downloads. A running swipe can be cancelled.
import type { JobEvents, JobProgress, JobView, SwipeResult, SwipeStarted } from '@serve/answers.js';
import { getJson, postJson, request, showImage } from './api-client.js';
import { box, byId, duration, make, messageOf, num } from './dom.js';
import { state } from './state.js';

function swipeError(message: string | null): void {
  const e = box('swipe-error');
  e.hidden = message === null;
  e.textContent = message ?? '';
}

function swipeRunning(running: boolean): void {
  byId('swipe-start', HTMLButtonElement).disabled = running;
  box('swipe-cancel').hidden = !running;
}

function renderProgress(p: JobProgress): void {
  const fraction = p.total > 0 ? p.done / p.total : 0;
  box('swipe-progress').style.width = `${(100 * fraction).toFixed(1)}%`;
  box('swipe-status').textContent = `${p.done} / ${p.total} attack runs${p.attack ? ` · now ${p.attack}` : ''}`;
  box('swipe-eta').textContent = p.etaSeconds === undefined ? '' : `about ${duration(p.etaSeconds)} left`;
}

export async function startSwipe(e: Event): Promise<void> {
  e.preventDefault();
  const profile = byId('swipe-profile', HTMLSelectElement).value;
  const maxQueries = Number(byId('swipe-max', HTMLInputElement).value);
  if (!(Number.isInteger(maxQueries) && maxQueries >= 1)) return swipeError('max queries must be a whole number ≥ 1');
  swipeError(null);
  box('swipe-result').hidden = true;
  swipeRunning(true);
  box('swipe-progress-block').hidden = false;
  renderProgress({ done: 0, total: 0 });
  box('swipe-status').textContent = 'queued…';
  try {
    const { jobId } = await postJson<SwipeStarted>('/api/swipe', { profile, maxQueries });
    state.swipeJob = jobId;
    await followJob(jobId);
  } catch (err) {
    swipeError(messageOf(err));
  } finally {
    state.swipeJob = null;
    swipeRunning(false);
  }
}

/** The result of a job that is done; a done job without one is the server's error. */
function resultOf(result: SwipeResult | undefined): SwipeResult {
  if (result === undefined) throw new Error('the swipe ended without a result');
  return result;
}

/**
 * Follows a job's event stream (fetch, so the token header goes along) until
 * it ends; if the stream breaks first, polls the job instead.
 */
async function followJob(jobId: string): Promise<void> {
  const res = await request(`/api/jobs/${encodeURIComponent(jobId)}/events`, { headers: { Accept: 'text/event-stream' } });
  const reader = res.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  while (reader) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n/g, '\n');
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
      }
      if (data === '') continue;
      const payload: unknown = JSON.parse(data);
      if (event === 'progress') renderProgress(payload as JobEvents['progress']);
      else if (event === 'done') return swipeDone(jobId, resultOf((payload as JobEvents['done']).result));
      else if (event === 'failed' || event === 'cancelled') {
        await reader.cancel();
        throw new Error(event === 'cancelled' ? 'swipe cancelled' : `swipe failed: ${(payload as JobEvents['failed']).error ?? 'unknown error'}`);
      }
    }
  }
  // The stream ended without a verdict: ask for the job's state until it has one.
  for (;;) {
    const job = await getJson<JobView>(`/api/jobs/${encodeURIComponent(jobId)}`);
    renderProgress(job.progress);
    if (job.state === 'done' && job.result) return swipeDone(jobId, job.result);
    if (job.state === 'failed' || job.state === 'cancelled') throw new Error(job.error ?? `swipe ${job.state}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function swipeDone(jobId: string, r: SwipeResult): void {
  box('swipe-progress').style.width = '100%';
  box('swipe-status').textContent = 'done';
  box('swipe-eta').textContent = '';
  box('swipe-result').hidden = false;
  box('swipe-ers').textContent = r.ERS === null ? 'n/a' : r.ERS.toFixed(1);
  box('swipe-ars').textContent = r.ARS === null ? 'n/a' : r.ARS.toFixed(1);
  box('swipe-queries').textContent = r.queries.toLocaleString('en-US');
  box('swipe-seconds').textContent = `${r.batches} batch(es), ${duration(r.seconds)} · benign R@1 ${r.benignRecallAt1.toFixed(1)} %`;
  const body = byId('swipe-table', HTMLTableElement).tBodies[0];
  body?.replaceChildren(
    ...Object.entries(r.attacks).map(([name, v]) => {
      const tr = make('tr');
      tr.append(make('th', '', name), make('td', 'num', num(v)));
      return tr;
    }),
  );
  const base = `/api/jobs/${encodeURIComponent(jobId)}`;
  const chart = byId('swipe-chart', HTMLImageElement);
  chart.hidden = r.ERS === null;
  if (r.ERS !== null) showImage(chart, `${base}/report.svg`);
  const downloads = box('swipe-downloads');
  downloads.replaceChildren(
    ...['report.json', 'report.md', ...(r.ERS === null ? [] : ['report.svg'])].map((file) => {
      const a = make('a', 'download', file);
      a.href = `${base}/${file}`;
      a.download = `swipe-${r.profile}-${file}`;
      return a;
    }),
  );
}

export async function cancelSwipe(): Promise<void> {
  if (!state.swipeJob) return;
  try {
    await request(`/api/jobs/${encodeURIComponent(state.swipeJob)}`, { method: 'DELETE' });
  } catch (e) {
    swipeError(`cancel: ${messageOf(e)}`);
  }
}
