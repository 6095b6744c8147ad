/**
 * Where Kafka's message definitions are, for the tests that read them (the generator's tests,
 * the round-trip and malformed-input sweeps over every message and version). They sit in
 * `../shared/kafka-protocol/messages`, beside the project's own checkout and CI's clone; a
 * user's clone has no `../shared`, so those tests are skipped there — reported as skipped,
 * never as passed — with the one-line reason below. No other test reads these files.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";

export const specDir = resolve(import.meta.dir, "../../../shared/kafka-protocol/messages");
export const specsPresent = existsSync(specDir);
export const specsMissingReason = `Kafka's message definitions are not at ${specDir} (only the project's own checkout has ../shared)`;

if (!specsPresent) console.log(`skipped: tests that read Kafka's message definitions: ${specsMissingReason}`);
