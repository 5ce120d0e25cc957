// The bench report as a chart: grouped bars of p50 latency, one group per workload and one bar
// per policy/transport, on a log scale (the policies differ by orders of magnitude), with a
// value on each bar so that it reads without the table. Hand-written SVG.

import type { BenchReport } from './index.js';
import { formatNs } from './stats.js';

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const BAR = 16;
const GROUP_GAP = 28;
const PLOT_HEIGHT = 380;
const LEFT = 90;
const RIGHT = 20;
const LEGEND_ROW = 18;

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fixed = (x: number) => x.toFixed(1);

/** 10^k nanoseconds as a tick label: '1 ns', '100 µs', '10 ms'. */
function decade(k: number): string {
  const unit = Math.min(3, Math.floor(k / 3));
  return `${10 ** (k - 3 * unit)} ${['ns', 'µs', 'ms', 's'][unit]}`;
}

export function svgReport(r: BenchReport): string {
  const seriesOf = (x: { policy: string; transport: string }) => `${x.policy} ${x.transport}`;
  const series = [...new Set(r.results.map(seriesOf))];
  const color = (s: string) => PALETTE[series.indexOf(s) % PALETTE.length];
  const groups = [...new Set(r.results.map((x) => x.workload))].map((w) => ({ w, bars: r.results.filter((x) => x.workload === w) }));

  const values = r.results.map((x) => x.p50_ns).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(...values, 1e3)));
  // Headroom above the tallest bar for its value label.
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...values, 1e3)) + 0.7));
  const legendRows = Math.ceil(series.length / 4);
  const top = 60 + legendRows * LEGEND_ROW;
  const y = (ns: number) => top + PLOT_HEIGHT - ((Math.log10(Math.max(ns, 10 ** lo)) - lo) / (hi - lo)) * PLOT_HEIGHT;
  const plotWidth = groups.reduce((sum, g) => sum + g.bars.length * BAR + GROUP_GAP, 0);
  const width = Math.max(LEFT + plotWidth + RIGHT, 640);
  const height = top + PLOT_HEIGHT + 130;
  const bottom = top + PLOT_HEIGHT;

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${LEFT}" y="22" font-size="16" font-weight="bold">rumpus bench: p50 latency of one operation, per workload and policy (lower is better)</text>`);
  const m = r.machine;
  const machine = `${m.cpu}, ${m.cores} cores, Node ${m.node}, load average ${m.load_average[0].toFixed(2)} at start`;
  out.push(`<text x="${LEFT}" y="40" fill="#555555">${escape(`${machine}; bars on a log scale, value on each bar`)}</text>`);
  series.forEach((s, i) => {
    const lx = LEFT + (i % 4) * 230;
    const ly = 52 + Math.floor(i / 4) * LEGEND_ROW;
    out.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${color(s)}"/><text x="${lx + 17}" y="${ly + 10}">${escape(s)}</text>`);
  });

  for (let k = lo; k <= hi; k++) {
    const gy = fixed(y(10 ** k));
    out.push(`<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${gy}" y2="${gy}" stroke="#dddddd"/>`);
    out.push(`<text x="${LEFT - 6}" y="${gy}" text-anchor="end" dominant-baseline="middle">${decade(k)}</text>`);
  }
  out.push(`<line x1="${LEFT}" x2="${LEFT}" y1="${top}" y2="${bottom}" stroke="#333333"/>`);
  out.push(`<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${bottom}" y2="${bottom}" stroke="#333333"/>`);
  out.push(`<text transform="translate(20 ${top + PLOT_HEIGHT / 2}) rotate(-90)" text-anchor="middle">p50 latency per operation (log scale)</text>`);
  out.push(`<text x="${LEFT + plotWidth / 2}" y="${height - 10}" text-anchor="middle">workload</text>`);

  let x = LEFT + GROUP_GAP / 2;
  for (const g of groups) {
    for (const b of g.bars) {
      const by = y(b.p50_ns);
      const label = `${g.w}, ${seriesOf(b)}: p50 ${formatNs(b.p50_ns)}, p99 ${formatNs(b.p99_ns)}`;
      out.push(`<rect class="bar" x="${fixed(x)}" y="${fixed(by)}" width="${BAR - 2}" height="${fixed(bottom - by)}" fill="${color(seriesOf(b))}"><title>${escape(label)}</title></rect>`);
      out.push(`<text transform="translate(${fixed(x + BAR / 2 + 3)} ${fixed(by - 4)}) rotate(-90)" font-size="9">${escape(formatNs(b.p50_ns))}</text>`);
      x += BAR;
    }
    const center = x - (g.bars.length * BAR) / 2;
    out.push(`<text transform="translate(${fixed(center)} ${bottom + 14}) rotate(-35)" text-anchor="end">${escape(g.w)}</text>`);
    x += GROUP_GAP;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
