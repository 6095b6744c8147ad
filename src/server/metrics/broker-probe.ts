/**
 * Counters the request path bumps for the metrics endpoint (Redpanda's probe files): per
 * topic bytes and messages in and out, and per API request counts and latencies. The hot
 * path pays one map lookup and a few additions; everything else (partition counts, lag,
 * quorum state) is read at scrape time by collect.ts.
 *
 * Bounds: one entry per topic that saw traffic (a deleted topic's entry is dropped by
 * `retainTopics` at scrape time) and one per API key served.
 */
import { Histogram, latencyBucketsMs } from "./text.ts";

export class TopicCounters {
  bytesIn = 0;
  messagesIn = 0;
  /** Consumer fetches only (replication is counted apart, as Kafka does). */
  bytesOut = 0;
  replicationBytesOut = 0;
  produceRequests = 0;
  fetchRequests = 0;
}

export class RequestCounters {
  requests = 0;
  errors = 0;
  readonly totalTimeMs = new Histogram(latencyBucketsMs);
}

export class BrokerProbe {
  readonly topics = new Map<string, TopicCounters>();
  readonly all = new TopicCounters();
  /** By API name. */
  readonly requests = new Map<string, RequestCounters>();

  #topic(topic: string): TopicCounters {
    let c = this.topics.get(topic);
    if (c === undefined) {
      c = new TopicCounters();
      this.topics.set(topic, c);
    }
    return c;
  }

  /** A produce to one partition was appended (not a duplicate retry). */
  produced(topic: string, bytes: number, messages: number): void {
    const c = this.#topic(topic);
    c.bytesIn += bytes;
    c.messagesIn += messages;
    c.produceRequests++;
    this.all.bytesIn += bytes;
    this.all.messagesIn += messages;
    this.all.produceRequests++;
  }

  /** A fetch of one partition returned `bytes` of records; `replica`: a follower's fetch. */
  fetched(topic: string, bytes: number, replica: boolean): void {
    const c = this.#topic(topic);
    c.fetchRequests++;
    this.all.fetchRequests++;
    if (replica) {
      c.replicationBytesOut += bytes;
      this.all.replicationBytesOut += bytes;
    } else {
      c.bytesOut += bytes;
      this.all.bytesOut += bytes;
    }
  }

  /** One request of `api` was handled in `elapsedMs`; `failed`: its handler threw. */
  request(api: string, elapsedMs: number, failed: boolean): void {
    let c = this.requests.get(api);
    if (c === undefined) {
      c = new RequestCounters();
      this.requests.set(api, c);
    }
    c.requests++;
    if (failed) c.errors++;
    c.totalTimeMs.observe(elapsedMs);
  }

  /** Forgets topics that no longer exist (their counters would otherwise stay for ever). */
  retainTopics(exists: (topic: string) => boolean): void {
    for (const name of this.topics.keys()) if (!exists(name)) this.topics.delete(name);
  }
}
