/**
 * Prometheus text exposition (format 0.0.4): a writer that renders families of samples at
 * scrape time, and a fixed-bucket histogram cheap enough to observe on every request.
 *
 * Format owned here, per family: `# HELP name text` (backslash and newline escaped), `# TYPE
 * name counter|gauge|histogram`, then one line per sample `name{label="value",...} number`
 * with label values escaped (backslash, double quote, newline). A histogram family writes
 * `name_bucket{le="..."}` lines with cumulative counts ending at `le="+Inf"`, then
 * `name_sum` and `name_count`. Non-finite numbers render as `+Inf`, `-Inf`, `NaN`.
 *
 * Invariants (asserted): metric and label names match Prometheus's grammar; a family is
 * written once per scrape; bucket bounds strictly increase.
 */

export type Labels = Readonly<Record<string, string | number>>;
export type MetricType = "counter" | "gauge" | "histogram";

const metricNameRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNameRe = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

function labelText(labels: Labels | undefined, extra?: readonly [string, string]): string {
  const parts: string[] = [];
  if (labels !== undefined) {
    for (const name in labels) {
      if (!labelNameRe.test(name) || name.startsWith("__")) throw new Error(`metrics: label name "${name}"`);
      parts.push(`${name}="${escapeLabelValue(String(labels[name]))}"`);
    }
  }
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** Cumulative-bucket histogram. `observe` is two comparisons per bucket at most and no allocation. */
export class Histogram {
  readonly bounds: readonly number[];
  /** Per bucket (not cumulative); the last slot counts observations above every bound. */
  readonly #counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    if (bounds.length === 0) throw new Error("histogram: no buckets");
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new Error(`histogram: bucket bounds must increase (${bounds.join(",")})`);
    }
    if (!Number.isFinite(bounds[bounds.length - 1]!)) throw new Error("histogram: +Inf is implicit");
    this.bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.#counts[i]!++;
    this.sum += v;
    this.count++;
  }

  /** Cumulative counts per bound, then the +Inf total (which equals `count`). */
  cumulative(): number[] {
    const out: number[] = [];
    let acc = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      acc += this.#counts[i]!;
      out.push(acc);
    }
    return out;
  }
}

/** Request latency buckets, milliseconds (Kafka's request metrics are in ms). */
export const latencyBucketsMs: readonly number[] = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/** Collects one scrape's text; each family is written at most once. */
export class MetricsWriter {
  readonly #lines: string[] = [];
  readonly #families = new Set<string>();

  #header(name: string, type: MetricType, help: string): void {
    if (!metricNameRe.test(name)) throw new Error(`metrics: metric name "${name}"`);
    if (this.#families.has(name)) throw new Error(`metrics: family ${name} written twice`);
    this.#families.add(name);
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  /** A family of plain samples (counter or gauge); an empty list still writes HELP and TYPE. */
  family(name: string, type: "counter" | "gauge", help: string, samples: readonly { labels?: Labels; value: number }[]): void {
    if (type === "counter" && !name.endsWith("_total")) throw new Error(`metrics: counter ${name} must end in _total`);
    this.#header(name, type, help);
    for (const s of samples) this.#lines.push(`${name}${labelText(s.labels)} ${formatNumber(s.value)}`);
  }

  gauge(name: string, help: string, value: number, labels?: Labels): void {
    this.family(name, "gauge", help, [labels === undefined ? { value } : { labels, value }]);
  }

  counter(name: string, help: string, value: number, labels?: Labels): void {
    this.family(name, "counter", help, [labels === undefined ? { value } : { labels, value }]);
  }

  histogram(name: string, help: string, series: readonly { labels?: Labels; histogram: Histogram }[]): void {
    this.#header(name, "histogram", help);
    for (const { labels, histogram } of series) {
      const cumulative = histogram.cumulative();
      histogram.bounds.forEach((bound, i) => this.#lines.push(`${name}_bucket${labelText(labels, ["le", formatNumber(bound)])} ${cumulative[i]!}`));
      this.#lines.push(`${name}_bucket${labelText(labels, ["le", "+Inf"])} ${cumulative[cumulative.length - 1]!}`);
      this.#lines.push(`${name}_sum${labelText(labels)} ${formatNumber(histogram.sum)}`);
      this.#lines.push(`${name}_count${labelText(labels)} ${histogram.count}`);
    }
  }

  text(): string {
    return this.#lines.length === 0 ? "" : `${this.#lines.join("\n")}\n`;
  }
}

/** The Content-Type of this format. */
export const metricsContentType = "text/plain; version=0.0.4; charset=utf-8";
