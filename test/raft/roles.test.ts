/**
 * The role transition rule, table-driven: every (from, to) pair of roles at the same epoch,
 * the next epoch and the previous one, for a voter and for an observer, against the table in
 * roles.ts; then the rules about votes and leaders within an epoch.
 */
import { describe, expect, test } from "bun:test";
import type { ReplicaKey } from "../../src/raft/messages.ts";
import { durableStateOf, type RoleKind, type RoleSummary, transitionProblem, type TransitionContext } from "../../src/raft/roles.ts";
import { dirId } from "./helpers.ts";

const self: ReplicaKey = { id: 0, directoryId: dirId(0) };
const other: ReplicaKey = { id: 1, directoryId: dirId(1) };
const voterCtx: TransitionContext = { local: self, isVoter: true, voterIds: new Set([0, 1, 2]) };
const observerCtx: TransitionContext = { local: { id: 5, directoryId: dirId(5) }, isVoter: false, voterIds: new Set([0, 1, 2]) };

/** A typical role of each kind at `epoch` (the leader it names, the vote it holds). */
function role(kind: RoleKind, epoch: number, ctx: TransitionContext): RoleSummary {
  const me = ctx.local;
  switch (kind) {
    case "unattached":
      return { kind, epoch, leaderId: -1, votedKey: null };
    case "prospective":
      return { kind, epoch, leaderId: -1, votedKey: null };
    case "candidate":
      return { kind, epoch, leaderId: -1, votedKey: me };
    case "leader":
    case "resigned":
      return { kind, epoch, leaderId: me.id, votedKey: me };
    case "follower":
      return { kind, epoch, leaderId: 1, votedKey: null };
  }
}

const kinds: RoleKind[] = ["unattached", "prospective", "candidate", "leader", "follower", "resigned"];

/** Allowed (from → to) for a voter, by epoch step: the table of roles.ts. */
const voterTable: Record<"same" | "next", Record<RoleKind, RoleKind[]>> = {
  same: {
    unattached: ["prospective", "follower"],
    prospective: ["follower"],
    candidate: ["prospective", "leader", "follower"],
    leader: ["resigned"],
    follower: ["prospective"],
    resigned: ["prospective"],
  },
  next: {
    unattached: ["unattached", "follower"],
    prospective: ["unattached", "candidate", "follower"],
    candidate: ["unattached", "follower"],
    leader: ["unattached", "follower"],
    follower: ["unattached", "follower"],
    resigned: ["unattached", "follower"],
  },
};

describe("transition table, voter", () => {
  for (const from of kinds) {
    for (const to of kinds) {
      for (const step of ["same", "next", "previous"] as const) {
        const allowed = step === "previous" ? false : voterTable[step][from].includes(to);
        test(`${from} → ${to}, ${step} epoch: ${allowed ? "allowed" : "refused"}`, () => {
          const f = role(from, 5, voterCtx);
          const toEpoch = step === "same" ? 5 : step === "next" ? 6 : 4;
          let next = role(to, toEpoch, voterCtx);
          // Within an epoch the durable part carries over: the vote, and the leader a prospective keeps.
          if (step === "same" && (to === "prospective" || to === "follower")) next = { ...next, votedKey: f.votedKey };
          if (step === "same" && to === "prospective") next = { ...next, leaderId: f.leaderId };
          const problem = transitionProblem(f, next, voterCtx);
          expect({ problem, allowed: problem === null }).toMatchObject({ allowed });
        });
      }
    }
  }
  test("unattached or prospective → unattached in the same epoch only to cast a vote", () => {
    const voted: RoleSummary = { kind: "unattached", epoch: 5, leaderId: -1, votedKey: other };
    expect(transitionProblem(role("unattached", 5, voterCtx), voted, voterCtx)).toBeNull();
    expect(transitionProblem(role("prospective", 5, voterCtx), voted, voterCtx)).toBeNull();
    expect(transitionProblem(voted, voted, voterCtx)).not.toBeNull();
  });
});

describe("transition table, observer", () => {
  for (const from of ["unattached", "follower"] as const) {
    for (const to of kinds) {
      const allowedSame = from === "unattached" ? to === "follower" : to === "unattached";
      const allowedNext = to === "unattached" || to === "follower";
      test(`${from} → ${to}: same epoch ${allowedSame}, next epoch ${allowedNext}`, () => {
        const f = role(from, 5, observerCtx);
        expect(transitionProblem(f, role(to, 5, observerCtx), observerCtx) === null).toBe(allowedSame);
        expect(transitionProblem(f, role(to, 6, observerCtx), observerCtx) === null).toBe(allowedNext);
      });
    }
  }
});

describe("within an epoch, votes and leaders stay", () => {
  test("a vote is never changed or dropped", () => {
    const voted: RoleSummary = { kind: "unattached", epoch: 5, leaderId: -1, votedKey: other };
    const otherVote: RoleSummary = { ...voted, votedKey: { id: 2, directoryId: dirId(2) } };
    expect(transitionProblem(voted, otherVote, voterCtx)).toMatch(/vote cast in epoch 5 would change/);
    expect(transitionProblem({ ...voted, kind: "prospective" }, { ...voted, kind: "follower", leaderId: 1, votedKey: null }, voterCtx)).toMatch(/vote/);
    // Same vote, new role: fine; next epoch: a fresh start.
    expect(transitionProblem({ ...voted, kind: "prospective" }, { ...voted, kind: "follower", leaderId: 1 }, voterCtx)).toBeNull();
    expect(transitionProblem(voted, { ...otherVote, epoch: 6 }, voterCtx)).toBeNull();
  });

  test("a known leader is never replaced; only an observer may forget it", () => {
    const following: RoleSummary = { kind: "follower", epoch: 5, leaderId: 1, votedKey: null };
    expect(transitionProblem({ ...following, kind: "prospective" }, { ...following, leaderId: 2 }, voterCtx)).toMatch(/leader of epoch 5 would change/);
    expect(transitionProblem(following, role("unattached", 5, voterCtx), voterCtx)).not.toBeNull();
    expect(transitionProblem(following, role("unattached", 5, observerCtx), observerCtx)).toBeNull();
  });

  test("no one follows itself or a non-voter; candidates, leaders and resigned nodes voted for themselves", () => {
    expect(transitionProblem(role("unattached", 5, voterCtx), { kind: "follower", epoch: 5, leaderId: 0, votedKey: null }, voterCtx)).toMatch(/itself/);
    expect(transitionProblem(role("unattached", 5, voterCtx), { kind: "follower", epoch: 5, leaderId: 7, votedKey: null }, voterCtx)).toMatch(/not a voter/);
    expect(transitionProblem(role("prospective", 5, voterCtx), { kind: "candidate", epoch: 6, leaderId: -1, votedKey: other }, voterCtx)).toMatch(/voted for itself/);
    expect(transitionProblem(role("candidate", 5, voterCtx), { kind: "leader", epoch: 5, leaderId: 1, votedKey: self }, voterCtx)).toMatch(/names itself/);
  });

  test("the durable state of a role is what quorum-state records", () => {
    expect(durableStateOf(role("leader", 7, voterCtx))).toEqual({ leaderEpoch: 7, leaderId: 0, votedId: 0, votedDirectoryId: dirId(0) });
    expect(durableStateOf(role("follower", 7, voterCtx))).toEqual({ leaderEpoch: 7, leaderId: 1, votedId: -1, votedDirectoryId: "AAAAAAAAAAAAAAAAAAAAAA" });
  });
});
