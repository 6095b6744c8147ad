/**
 * Runs a controller decision for an admin handler. When the metadata log cannot take the
 * records (a storage failure, a decision too large for one batch), the handler still answers:
 * every item gets UNKNOWN_SERVER_ERROR with the reason, and the broker logs it (rate-limited
 * per connection: clients retry). A thrown
 * exception would close the client's connection instead, which clients retry blindly.
 */
import type { ControllerContext, ControllerResult } from "../../metadata/controller.ts";
import { NotControllerError } from "../../metadata/metadata-manager.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import type { RequestContext } from "./handler.ts";

export type Decided<T> = { ok: true; value: T } | { ok: false; errorCode: number; errorMessage: string };

export async function tryDecide<T>(ctx: RequestContext, what: string, decide: (ctx: ControllerContext) => ControllerResult<T>): Promise<Decided<T>> {
  try {
    return { ok: true, value: await ctx.services.metadata.submit(decide) };
  } catch (error) {
    // Leadership moved (or an election is under way): the client finds the controller again.
    if (error instanceof NotControllerError) return { ok: false, errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: error.message };
    const reason = error instanceof Error ? error.message : String(error);
    ctx.logRepeated("error", "metadata change failed", "metadata change failed", { what, error: reason });
    return { ok: false, errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: `metadata change failed: ${reason}` };
  }
}
