/**
 * A strict parser of the Prometheus text format (0.0.4), written for the tests: every sample
 * must belong to a family announced by `# HELP` and `# TYPE` before it, label values must be
 * well escaped, histogram buckets cumulative with `+Inf` equal to `_count`. Throws on the
 * first violation, naming the line.
 */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedFamily {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: ParsedSample[];
}

function unescape(s: string, allowQuote: boolean): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const n = s[++i];
    if (n === "\\") out += "\\";
    else if (n === "n") out += "\n";
    else if (n === '"' && allowQuote) out += '"';
    else throw new Error(`bad escape \\${n ?? ""} in ${JSON.stringify(s)}`);
  }
  return out;
}

function parseValue(s: string, line: string): number {
  if (s === "+Inf") return Number.POSITIVE_INFINITY;
  if (s === "-Inf") return Number.NEGATIVE_INFINITY;
  if (s === "NaN") return Number.NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new Error(`bad value in ${JSON.stringify(line)}`);
  return Number(s);
}

function parseLabels(s: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(s.slice(i));
    if (m === null) throw new Error(`bad label at ${i} in ${JSON.stringify(line)}`);
    i += m[0].length;
    let raw = "";
    while (i < s.length && s[i] !== '"') {
      if (s[i] === "\\") {
        raw += s[i]! + (s[i + 1] ?? "");
        i += 2;
      } else raw += s[i++]!;
    }
    if (s[i] !== '"') throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
    i++;
    if (m[1]! in out) throw new Error(`label ${m[1]} twice in ${JSON.stringify(line)}`);
    out[m[1]!] = unescape(raw, true);
    if (i < s.length) {
      if (s[i] !== ",") throw new Error(`expected , in ${JSON.stringify(line)}`);
      i++;
    }
  }
  return out;
}

const suffixes = ["_bucket", "_sum", "_count"] as const;

export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("text does not end with a newline");
  const families = new Map<string, ParsedFamily>();
  const pendingHelp = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# HELP ")) {
      const m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (m === null) throw new Error(`bad HELP ${JSON.stringify(line)}`);
      if (families.has(m[1]!) || pendingHelp.has(m[1]!)) throw new Error(`family ${m[1]} announced twice`);
      pendingHelp.set(m[1]!, unescape(m[2]!, false));
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (m === null) throw new Error(`bad TYPE ${JSON.stringify(line)}`);
      const help = pendingHelp.get(m[1]!);
      if (help === undefined) throw new Error(`TYPE without HELP for ${m[1]}`);
      pendingHelp.delete(m[1]!);
      families.set(m[1]!, { name: m[1]!, type: m[2]!, help, samples: [] });
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`bad sample ${JSON.stringify(line)}`);
    const name = m[1]!;
    let family = families.get(name);
    if (family === undefined) {
      const suffix = suffixes.find((s) => name.endsWith(s));
      if (suffix !== undefined) family = families.get(name.slice(0, -suffix.length));
      if (family === undefined || family.type !== "histogram") throw new Error(`sample ${name} before its family's TYPE`);
    } else if (family.type === "histogram") throw new Error(`histogram ${name} sample without a suffix`);
    family.samples.push({ name, labels: parseLabels(m[2] ?? "", line), value: parseValue(m[3]!, line) });
  }
  for (const f of families.values()) {
    if (f.type === "counter" && !f.name.endsWith("_total")) throw new Error(`counter ${f.name} does not end in _total`);
    if (f.type === "histogram") checkHistogram(f);
  }
  return families;
}

function seriesKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).filter(([k]) => k !== "le").sort());
}

function checkHistogram(f: ParsedFamily): void {
  const bySeries = new Map<string, { buckets: { le: number; count: number }[]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const key = seriesKey(s.labels);
    let e = bySeries.get(key);
    if (e === undefined) bySeries.set(key, (e = { buckets: [] }));
    if (s.name.endsWith("_bucket")) {
      const le = s.labels.le;
      if (le === undefined) throw new Error(`${s.name} without le`);
      e.buckets.push({ le: parseValue(le, le), count: s.value });
    } else if (s.name.endsWith("_count")) e.count = s.value;
    else e.sum = s.value;
  }
  for (const [key, e] of bySeries) {
    if (e.count === undefined || e.sum === undefined) throw new Error(`${f.name}${key}: no _count or _sum`);
    for (let i = 1; i < e.buckets.length; i++) {
      if (!(e.buckets[i]!.le > e.buckets[i - 1]!.le)) throw new Error(`${f.name}${key}: bucket bounds out of order`);
      if (e.buckets[i]!.count < e.buckets[i - 1]!.count) throw new Error(`${f.name}${key}: buckets not cumulative`);
    }
    const last = e.buckets[e.buckets.length - 1];
    if (last === undefined || last.le !== Number.POSITIVE_INFINITY || last.count !== e.count) throw new Error(`${f.name}${key}: +Inf bucket missing or not equal to _count`);
  }
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when none. */
export function sampleValue(families: Map<string, ParsedFamily>, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  const family = families.get(name) ?? [...families.values()].find((f) => f.type === "histogram" && name.startsWith(f.name));
  const want = Object.entries(labels);
  const match = family?.samples.filter((s) => s.name === name && Object.keys(s.labels).length === want.length && want.every(([k, v]) => s.labels[k] === v));
  if (match === undefined || match.length === 0) return undefined;
  if (match.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${match.length} samples`);
  return match[0]!.value;
}
