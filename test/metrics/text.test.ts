import { describe, expect, test } from "bun:test";
import { Histogram, MetricsWriter } from "../../src/server/metrics/text.ts";
import { parsePrometheusText, sampleValue } from "./prom-parse.ts";

describe("Prometheus text writer", () => {
  test("escapes HELP and label values so a strict parser reads them back", () => {
    const w = new MetricsWriter();
    const nasty = 'a "quoted" \\ back\nslash';
    w.family("x_total", "counter", "help with \\ and\nnewline", [{ value: 3 }, { labels: { topic: nasty, partition: 7 }, value: 4 }]);
    w.gauge("g", "a gauge", Number.POSITIVE_INFINITY);
    const parsed = parsePrometheusText(w.text());
    expect(parsed.get("x_total")?.help).toBe("help with \\ and\nnewline");
    expect(sampleValue(parsed, "x_total")).toBe(3);
    expect(sampleValue(parsed, "x_total", { topic: nasty, partition: "7" })).toBe(4);
    expect(sampleValue(parsed, "g")).toBe(Number.POSITIVE_INFINITY);
  });

  test("histograms are cumulative, +Inf equals the count, sum adds up", () => {
    const h = new Histogram([1, 10, 100]);
    for (const v of [0.5, 1, 2, 50, 1000, 1000]) h.observe(v);
    const w = new MetricsWriter();
    w.histogram("lat_ms", "latency", [{ labels: { request: "Produce" }, histogram: h }]);
    const parsed = parsePrometheusText(w.text());
    expect(sampleValue(parsed, "lat_ms_bucket", { request: "Produce", le: "1" })).toBe(2);
    expect(sampleValue(parsed, "lat_ms_bucket", { request: "Produce", le: "10" })).toBe(3);
    expect(sampleValue(parsed, "lat_ms_bucket", { request: "Produce", le: "100" })).toBe(4);
    expect(sampleValue(parsed, "lat_ms_bucket", { request: "Produce", le: "+Inf" })).toBe(6);
    expect(sampleValue(parsed, "lat_ms_count", { request: "Produce" })).toBe(6);
    expect(sampleValue(parsed, "lat_ms_sum", { request: "Produce" })).toBe(2053.5);
  });

  test("refuses what would make the text invalid", () => {
    const w = new MetricsWriter();
    expect(() => w.counter("no_suffix", "h", 1)).toThrow("_total");
    expect(() => w.gauge("bad-name", "h", 1)).toThrow("metric name");
    expect(() => w.gauge("g", "h", 1, { "bad-label": "x" })).toThrow("label name");
    w.gauge("once", "h", 1);
    expect(() => w.gauge("once", "h", 1)).toThrow("twice");
    expect(() => new Histogram([2, 1])).toThrow("increase");
  });

  test("the test parser rejects malformed text (it can fail)", () => {
    expect(() => parsePrometheusText("x 1\n")).toThrow("before its family");
    expect(() => parsePrometheusText('# HELP x h\n# TYPE x gauge\nx{a="\\q"} 1\n')).toThrow("escape");
    expect(() => parsePrometheusText("# HELP h_ms h\n# TYPE h_ms histogram\nh_ms_bucket{le=\"1\"} 2\nh_ms_bucket{le=\"+Inf\"} 1\nh_ms_sum 1\nh_ms_count 1\n")).toThrow("cumulative");
  });
});
