import { execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { count, percent, seconds, timeLeft, usd, windowText } from '../../demo/format';
import { pipelineOptimumMs } from '../../demo/optimum';
import { newMetrics, settled } from '../../demo/metrics';
import { RecentRate, etaMs, statusText } from '../../demo/progress';
import { summarySentences, wrap, type RunResult } from '../../demo/summary';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Cursor moves, line clears, colours: what a terminal acts on and a reader never sees. */
const stripAnsi = (text: string) =>
  text
    // eslint-disable-next-line no-control-regex -- ESC is exactly what these remove
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    // eslint-disable-next-line no-control-regex -- ditto
    .replace(/\x1b[()][A-Za-z0-9]/g, '');

function hasScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `npm run demo`'s command under a pseudo-terminal (util-linux `script`), so the demo takes
 * its terminal path: cli-progress bars, redrawn in place. Resolves to everything written.
 */
function runDemoOnTerminal(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  // The tsx binary `npm run demo` runs, without npm in between (npm's spinner would land in the output).
  const command = `${join(root, 'node_modules/.bin/tsx')} demo/main.ts`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

const scriptAvailable = hasScript();
if (!scriptAvailable) {
  // In CI .ci/run installs it, so a missing `script` there is a failure, not a skip.
  if (process.env.CI)
    throw new Error(
      'util-linux `script` is missing; the demo terminal test needs it (apt-get install bsdutils)',
    );
  console.warn('[demo test] skipped: util-linux `script` is not installed (apt-get install bsdutils)');
}

describe.runIf(scriptAvailable)('npm run demo on a terminal (short configuration)', () => {
  it('shows real values while it runs and ends with a summary in words', async () => {
    // 40 documents against 20 requests per 1.5 s: the unthrottled burst overfills the window, and
    // its retries (1 s apart) land while the refusals still count, so it loses items; ~15 s of runs.
    const { code, output } = await runDemoOnTerminal({
      DEMO_DOCS: '40',
      DEMO_LIMIT: '20',
      DEMO_WINDOW_MS: '1500',
      DEMO_RAW: '',
    });
    const text = stripAnsi(output);
    expect(code, text).toBe(0);

    // The live display: cli-progress's own {eta} showed INF/NULL; nothing of the kind, anywhere.
    for (const bad of ['INF', 'NULL', 'NaN', 'undefined', 'Infinity'])
      expect(text, `"${bad}" in the output`).not.toContain(bad);
    expect(text).toMatch(/\d+\/40/);
    expect(text).toMatch(/items\/s · 429s \d+ · failed \d+ · ETA (…|\d+ s)/);
    expect(text).toMatch(/ETA \d+ s/); // the ETA became known at some point
    expect(text).toMatch(/done in \d+\.\d s/);

    // The summary, in words (wrapped to the terminal: matched with line breaks read as spaces).
    const words = text.replace(/\s+/g, ' ');
    expect(words).toMatch(
      /Unthrottled: the provider answered \d+ × 429; \d+ of 120 items \(40 documents × 3 stages\) still failed after 3 tries each, so \d+ of 40 documents were lost\./,
    );
    expect(words).toMatch(/Its answer, "[^"]+", is therefore wrong/);
    expect(words).toMatch(/Throttled: all 120 items \(40 documents × 3 stages\) succeeded/);
    expect(words).toMatch(
      /the best possible under 20 requests per 1\.5 s is \d+\.\d s, so it ran at \d+% of the optimum\./,
    );

    // Rounded numbers: no decimal in the output has more than 4 significant digits (raw stats had 17).
    const decimals = text.match(/\d+\.\d+/g) ?? [];
    expect(decimals.length).toBeGreaterThan(0);
    for (const d of decimals) expect(d.replace('.', '').replace(/^0+/, '').length, d).toBeLessThanOrEqual(4);
    // The raw objects only with --raw / DEMO_RAW=1.
    expect(text).not.toContain('Raw stats');
    expect(text).toContain('--raw');
  }, 90_000);
});

describe('demo formatting', () => {
  it('the bars of a throttled stage follow its progress events; a plain stage counts its calls', () => {
    const metrics = newMetrics();
    metrics.done.summarise = 3;
    metrics.failed.summarise = 1;
    expect(settled(metrics, 'summarise')).toBe(4);
    metrics.progress.summarise = {
      type: 'progress',
      node: 'Stage',
      kind: 'node',
      runId: 1,
      total: 20,
      done: 7,
      failed: 2,
      inFlight: 5,
      queued: 6,
      ratePerSec: 10,
      elapsedMs: 900,
      final: false,
    };
    expect(settled(metrics, 'summarise')).toBe(9);
    expect(settled(metrics, 'translate')).toBe(0);
  });

  it('rounds for people and never prints NaN or Infinity', () => {
    expect(seconds(16_461.29)).toBe('16.5 s');
    expect(seconds(Number.NaN)).toBe('…');
    expect(windowText(5000)).toBe('5 s');
    expect(windowText(1500)).toBe('1.5 s');
    expect(usd(0.003990000000000011)).toBe('$0.003990');
    expect(usd(0.019262)).toBe('$0.01926');
    expect(usd(12.3456)).toBe('$12.35');
    expect(usd(0)).toBe('$0');
    expect(usd(1.5e-9)).toBe('$0.000000001500');
    expect(percent(0.9683)).toBe('97%');
    expect(count(47_786)).toBe('47,786');
    expect(timeLeft(undefined)).toBe('…');
    expect(timeLeft(Number.POSITIVE_INFINITY)).toBe('…');
    expect(timeLeft(11_200)).toBe('12 s');
    expect(timeLeft(125_000)).toBe('2:05');
  });

  it('ETA: remaining ÷ the rate over the recent span, unknown until the span is covered or while nothing moves', () => {
    const rate = new RecentRate(5_000);
    rate.add(0, 0);
    rate.add(1_000, 120); // a window's burst: a rate over 1 s would promise far too much
    expect(rate.perSecond(5_000)).toBeUndefined();
    expect(rate.perSecond(500)).toBe(120);
    for (let t = 2_000; t <= 6_000; t += 1_000) rate.add(t, 120 + ((t - 1_000) / 1_000) * 24);
    // The samples cover exactly [1 s, 6 s]: 120 more items in 5 s.
    expect(rate.perSecond(5_000)).toBe(24);
    expect(etaMs(240, rate.perSecond(5_000))).toBe(10_000);
    expect(etaMs(240, 0)).toBeUndefined();
    expect(etaMs(240, undefined)).toBeUndefined();
    expect(etaMs(0, undefined)).toBe(0);
    expect(statusText({ perSecond: undefined, rateLimited: 0, failed: 0, etaMs: undefined })).toBe(
      '… items/s · 429s 0 · failed 0 · ETA …',
    );
    expect(statusText({ perSecond: 26.44, rateLimited: 990, failed: 330, etaMs: 0, doneInMs: 10_812 })).toBe(
      '26.4 items/s · 429s 990 · failed 330 · done in 10.8 s',
    );
  });

  it('the optimum: the sliding window admits `limit` per window, and each stage waits for the previous one', () => {
    const shape = { stages: 1, items: 300, limit: 100, windowMs: 10_000, latencyMs: 500, jitterMs: 300 };
    // The bench's formula for one stage: two full windows, then the slowest of 100 latencies in 200–800 ms.
    expect(pipelineOptimumMs(shape)).toBeCloseTo(20_000 + 200 + (600 * 100) / 101, 6);
    // Without jitter: stage 1 at 0 (ends 300), stage 2 at 300 (ends 600); of stage 3, 5 fit at 600
    // and 5 wait until stage 1's starts leave the window at 1000, ending at 1300.
    expect(
      pipelineOptimumMs({ stages: 3, items: 10, limit: 25, windowMs: 1_000, latencyMs: 300, jitterMs: 0 }),
    ).toBe(1_300);
    expect(pipelineOptimumMs({ ...shape, items: 0 })).toBe(0);
  });

  it('the summary says what a lossy run lost and what that did to its answer, or that nothing was lost', () => {
    const provider = {
      accepted: 0,
      rejected: 0,
      faults: { p500: 0, p529: 0, reset: 0 },
      tokens: 0,
      maxRequestsInAnyWindow: 20,
      maxTokensInAnyWindow: 0,
      inFlight: 0,
      maxInFlight: 0,
      windowMs: 1500,
      elapsedMs: 0,
    };
    const run = (
      label: string,
      makespanMs: number,
      failed: number,
      lostDocuments: number,
      complaints: number,
      rateLimited: number,
    ): RunResult => {
      const metrics = newMetrics();
      metrics.failed.classify = failed;
      metrics.rateLimited = rateLimited;
      return {
        label,
        makespanMs,
        metrics,
        lostDocuments,
        complaints,
        report: `Verdict: ${complaints} of 10 documents look like complaints`,
        provider,
      };
    };
    const ctx = { documents: 10, limit: 20, windowMs: 1500, triesPerItem: 3, optimumMs: 4000 };
    const throttled = run('throttled', 5000, 0, 0, 4, 0);

    const lossy = summarySentences(run('unthrottled', 3000, 10, 10, 0, 30), throttled, ctx).join(' ');
    expect(lossy).toContain(
      '10 of 30 items (10 documents × 3 stages) still failed after 3 tries each, so 10 of 10 documents were lost.',
    );
    expect(lossy).toContain(
      'is therefore wrong: not one document got through all 3 stages. The complete run found 4 complaints.',
    );
    expect(lossy).toContain('It finished sooner (3.0 s) only because it gave up on those items.');
    expect(lossy).toContain(
      'It took 5.0 s; the best possible under 20 requests per 1.5 s is 4.0 s, so it ran at 80% of the optimum.',
    );

    const partial = summarySentences(run('unthrottled', 6000, 3, 3, 2, 9), throttled, ctx).join(' ');
    expect(partial).toContain(
      'it counts only the 7 documents that got through all 3 stages. The complete run found 4 complaints.',
    );
    expect(partial).not.toContain('finished sooner');

    const clean = summarySentences(run('unthrottled', 6000, 0, 0, 4, 5), throttled, ctx).join(' ');
    expect(clean).toContain('got through on a retry this time, so its answer is complete.');
    expect(clean).not.toContain('wrong');

    expect(wrap('one two three four', 11)).toEqual(['  one two', '  three', '  four']);
  });
});
