/** The Network conformance suite on real TCP (Bun). */
import { bunNetwork } from "../../src/platform/bun/network.ts";
import { networkConformance } from "./network-conformance.ts";

networkConformance("bunNetwork (TCP on 127.0.0.1)", () => ({
  server: bunNetwork,
  client: bunNetwork,
  serverHost: "127.0.0.1",
  nowhereHost: "nonexistent.invalid",
  step: () => Bun.sleep(1),
  cleanup: () => {},
}));
