/**
 * hush: secrets for container pipelines. `dag` is the root of the API:
 *
 * ```ts
 * import { dag } from "@hush/sdk";
 *
 * const out = await dag
 *   .container()
 *   .from("busybox")
 *   .withSecretVariable("TOKEN", dag.secret("env://TOKEN"))
 *   .withExec(["sh", "-c", "echo $TOKEN"])
 *   .stdout(); // "***\n"
 * ```
 *
 * @module
 */

import { Query } from "./generated.js";

export * from "./generated.js";
export {
  EngineError,
  ExecError,
  HushError,
  InvalidUriError,
  NotFoundError,
  PermissionDeniedError,
  ProviderError,
  QueryError,
  SecretTimeoutError,
  SessionError,
  TooLargeError,
  UnreachableError,
} from "./errors.js";
export { HushObject } from "./core.js";

/** The root of the API. */
export const dag: Query = new Query(null, "", {});
