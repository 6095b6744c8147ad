/**
 * bunka's entry point: `bun src/main.ts broker [--config FILE] [--set key=value ...]`.
 * The broker itself lands with the single-node broker issue; until then this says so.
 */
const [command] = process.argv.slice(2);
if (command !== "broker") {
  console.error("usage: bunka broker [--config server.properties] [--set key=value ...]");
  process.exit(2);
}
console.error("bunka: the broker is not built yet (foundation stage); nothing is listening.");
process.exit(1);
