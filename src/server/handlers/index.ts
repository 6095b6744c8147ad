/**
 * The only list of Kafka APIs bunka serves. ApiVersions advertises exactly these handlers'
 * ranges, so adding an API is adding its file and one line here.
 */
import { apiVersionsHandler } from "./api-versions.ts";
import type { ApiHandler } from "./handler.ts";

const served: ApiHandler[] = [];

export const handlers: readonly ApiHandler[] = served;

served.push(apiVersionsHandler(() => handlers) as ApiHandler);
