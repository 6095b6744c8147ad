/**
 * `bunka cluster [--nodes N] [--dir DIR]` (`bun run cluster`): a local cluster of N combined
 * (broker + controller) nodes on 127.0.0.1, one process each, for development and tests.
 *
 * - DIR (default ./data/cluster) holds `cluster.id`, and per node `node-<id>/server.properties`,
 *   `node-<id>/data` and `node-<id>/broker.log`. Running it again on the same DIR restarts the
 *   same cluster with its data (and its ports, read back from the properties files).
 * - Ports are free ports picked at the first start: a client port and a controller port per node.
 * - Prints the bootstrap servers once every node is ready; Ctrl-C (SIGINT) or SIGTERM stops every
 *   node gracefully and exits 0. A node that dies is reported, and the others keep running.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomUuid } from "../metadata/uuid.ts";
import { cryptoPrng } from "../platform/bun/crypto-prng.ts";

export async function runLocalCluster(args: readonly string[], fail: (code: number, message: string) => never): Promise<void> {
  let nodes = 3;
  let dir = "data/cluster";
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) fail(2, `${a} needs a value`);
      return v;
    };
    if (a === "--nodes") {
      const text = value();
      nodes = /^[0-9]{1,2}$/.test(text) ? Number(text) : Number.NaN;
      if (!(nodes >= 1 && nodes <= 9)) fail(2, `--nodes ${text}: a number of nodes from 1 to 9`);
    } else if (a === "--dir") dir = value();
    else fail(2, `unknown argument "${a}" (bunka cluster [--nodes N] [--dir DIR])`);
  }
  dir = resolve(dir);
  mkdirSync(dir, { recursive: true });
  const idFile = join(dir, "cluster.id");
  const clusterId = existsSync(idFile) ? readFileSync(idFile, "utf8").trim() : randomUuid(cryptoPrng);
  if (!existsSync(idFile)) writeFileSync(idFile, `${clusterId}\n`);

  const ports: { client: number; controller: number }[] = [];
  const taken = new Set<number>();
  for (let id = 1; id <= nodes; id++) {
    const props = join(dir, `node-${id}`, "server.properties");
    const known = existsSync(props) ? /listeners=PLAINTEXT:\/\/127\.0\.0\.1:(\d+),CONTROLLER:\/\/127\.0\.0\.1:(\d+)/.exec(readFileSync(props, "utf8")) : null;
    const client = known !== null ? Number(known[1]) : await freePort(taken);
    taken.add(client);
    const controller = known !== null ? Number(known[2]) : await freePort(taken);
    taken.add(controller);
    ports.push({ client, controller });
  }
  const voters = ports.map((p, i) => `${i + 1}@127.0.0.1:${p.controller}`).join(",");
  const children: { id: number; proc: ReturnType<typeof Bun.spawn>; ready: boolean }[] = [];
  const main = join(import.meta.dir, "..", "main.ts");
  for (let id = 1; id <= nodes; id++) {
    const nodeDir = join(dir, `node-${id}`);
    mkdirSync(nodeDir, { recursive: true });
    const p = ports[id - 1]!;
    const props = join(nodeDir, "server.properties");
    writeFileSync(
      props,
      [
        `# written by bunka cluster`,
        `process.roles=broker,controller`,
        `node.id=${id}`,
        `cluster.id=${clusterId}`,
        `controller.quorum.voters=${voters}`,
        `listeners=PLAINTEXT://127.0.0.1:${p.client},CONTROLLER://127.0.0.1:${p.controller}`,
        `controller.listener.names=CONTROLLER`,
        `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT`,
        `log.dirs=${join(nodeDir, "data")}`,
        // Groups survive the loss of their coordinator's node only with replicated offsets (Kafka's default of 3).
        `offsets.topic.replication.factor=${Math.min(3, nodes)}`,
        ``,
      ].join("\n"),
    );
    const log = Bun.file(join(nodeDir, "broker.log"));
    const proc = Bun.spawn([process.execPath, main, "broker", "--config", props], { stdout: "pipe", stderr: log, stdin: "ignore" });
    const child = { id, proc, ready: false };
    children.push(child);
    void watchStdout(child, () => {
      if (children.every((c) => c.ready)) {
        console.log(`bunka cluster: ${nodes} nodes of cluster ${clusterId} are up (data and logs in ${dir})`);
        console.log(`bootstrap servers: ${ports.map((q) => `127.0.0.1:${q.client}`).join(",")}`);
        console.log("Ctrl-C stops every node.");
      }
    });
    void proc.exited.then((code) => {
      if (!stopping) console.error(`bunka cluster: node ${id} exited with ${code} (see ${join(nodeDir, "broker.log")})`);
    });
  }

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log("bunka cluster: stopping every node");
    for (const c of children) c.proc.kill("SIGTERM");
    const codes = await Promise.all(children.map((c) => c.proc.exited));
    const bad = codes.flatMap((code, i) => (code === 0 ? [] : [`node ${children[i]!.id}: ${code}`]));
    console.log(bad.length === 0 ? "bunka cluster: stopped" : `bunka cluster: stopped (${bad.join(", ")})`);
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  await Promise.all(children.map((c) => c.proc.exited));
  if (!stopping) fail(1, "bunka cluster: every node exited");
}

async function watchStdout(child: { id: number; proc: ReturnType<typeof Bun.spawn>; ready: boolean }, onReady: () => void): Promise<void> {
  const stream = child.proc.stdout as ReadableStream<Uint8Array>;
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      console.log(`[node ${child.id}] ${line}`);
      if (!child.ready && line.startsWith("bunka ")) {
        child.ready = true;
        onReady();
      }
      nl = buffered.indexOf("\n");
    }
  }
}

/**
 * A free TCP port on 127.0.0.1 below Linux's ephemeral range (32768-60999), checked by binding
 * it once. The ports are kept in the nodes' properties for every later start; one from the
 * ephemeral range could be in use by any outgoing connection at that time (the nodes' own
 * connections to each other included), and the node would not start. Falls back to a port the
 * OS picks when nothing in 20000..32767 is free.
 */
async function freePort(taken: ReadonlySet<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + (cryptoPrng.nextU32() % 12_768);
    if (taken.has(port)) continue;
    try {
      Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
      return port;
    } catch {
      // in use: try another
    }
  }
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}
