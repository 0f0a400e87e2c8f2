/**
 * Small SVG charts for the bench results: what the provider admitted in its trailing window over
 * time (one panel per strategy, with the limit line), and 429s per strategy.
 */
import type { GoodputRow } from './goodput';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** The row's times from its first admission (simulators start before their clients). */
function fromFirst(row: GoodputRow): GoodputRow {
  const t0 = Math.min(...row.acceptedAtMs, ...row.rejectedAtMs);
  return {
    ...row,
    acceptedAtMs: row.acceptedAtMs.map((t) => t - t0),
    rejectedAtMs: row.rejectedAtMs.map((t) => t - t0),
  };
}

/** Units admitted in the trailing window at each sample time. */
function trailingWindow(row: GoodputRow, stepMs: number): { t: number; used: number }[] {
  const end = Math.max(row.makespanMs, ...row.acceptedAtMs) + stepMs;
  const points: { t: number; used: number }[] = [];
  for (let t = 0; t <= end; t += stepMs) {
    let used = 0;
    row.acceptedAtMs.forEach((a, i) => {
      if (a <= t && a > t - row.windowMs) used += row.acceptedCosts[i]!;
    });
    points.push({ t, used });
  }
  return points;
}

/** One panel per strategy of a scenario: units in the provider's trailing window, with the limit. */
export function windowChart(rawRows: GoodputRow[], title: string): string {
  const rows = rawRows.map(fromFirst);
  const panelH = 120;
  const width = 760;
  const left = 60;
  const plotW = width - left - 20;
  const stepMs = 100;
  const maxT = Math.max(...rows.map((r) => Math.max(r.makespanMs, ...r.acceptedAtMs)));
  const parts: string[] = [];
  rows.forEach((row, p) => {
    const top = 40 + p * (panelH + 40);
    const yMax = row.limit * 1.2;
    const x = (t: number) => left + (t / maxT) * plotW;
    const y = (v: number) => top + panelH - (v / yMax) * panelH;
    const pts = trailingWindow(row, stepMs)
      .map((q) => `${x(q.t).toFixed(1)},${y(q.used).toFixed(1)}`)
      .join(' ');
    parts.push(
      `<text x="${left}" y="${top - 8}" font-size="13" font-weight="bold">${esc(row.strategy)} — ${row.rejected429} × 429, efficiency ${row.efficiency.toFixed(2)}</text>`,
      `<rect x="${left}" y="${top}" width="${plotW}" height="${panelH}" fill="#fafafa" stroke="#ccc"/>`,
      `<line x1="${left}" x2="${left + plotW}" y1="${y(row.limit)}" y2="${y(row.limit)}" stroke="#d33" stroke-dasharray="6 4"/>`,
      `<text x="${left - 6}" y="${y(row.limit) + 4}" font-size="11" text-anchor="end" fill="#d33">limit ${row.limit}</text>`,
      `<polyline points="${pts}" fill="none" stroke="#2563eb" stroke-width="1.5"/>`,
      ...row.rejectedAtMs.map(
        (r) =>
          `<line x1="${x(r).toFixed(1)}" x2="${x(r).toFixed(1)}" y1="${top + panelH - 8}" y2="${top + panelH}" stroke="#d33"/>`,
      ),
    );
  });
  const height = 40 + rows.length * (panelH + 40);
  const axis = `<text x="${left + plotW / 2}" y="${height - 8}" font-size="11" text-anchor="middle">time from the first admission (s, 0–${(maxT / 1000).toFixed(0)}); blue: units admitted in the provider's trailing ${rows[0]!.windowMs / 1000} s window; red ticks: 429s</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 10}" font-family="sans-serif">
<text x="${left}" y="20" font-size="15" font-weight="bold">${esc(title)}</text>
${parts.join('\n')}
${axis}
</svg>
`;
}

/** Horizontal bars: 429s per strategy and scenario. */
export function rejectionsChart(rows: GoodputRow[]): string {
  const barH = 18;
  const left = 360;
  const width = 760;
  const max = Math.max(1, ...rows.map((r) => r.rejected429));
  const bars = rows.map((r, i) => {
    const y = 40 + i * (barH + 6);
    const w = ((width - left - 60) * r.rejected429) / max;
    return `<text x="${left - 8}" y="${y + 13}" font-size="11" text-anchor="end">${esc(`${r.scenario} · ${r.strategy}`)}</text>
<rect x="${left}" y="${y}" width="${Math.max(1, w).toFixed(1)}" height="${barH}" fill="${r.strategy.startsWith('throttleflow') ? '#16a34a' : '#9ca3af'}"/>
<text x="${left + w + 6}" y="${y + 13}" font-size="11">${r.rejected429}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${50 + rows.length * (barH + 6)}" font-family="sans-serif">
<text x="10" y="22" font-size="15" font-weight="bold">429s per strategy (lower is better; throttleflow in green)</text>
${bars.join('\n')}
</svg>
`;
}
