/**
 * The errors of hush: one class per error kind of the core, all under {@link HushError}, each
 * with a stable `code` (the session's error kind, e.g. `"not_found"`).
 *
 * Messages name secrets by their URI or name, never by their value.
 *
 * @module
 */

/** Any failure reported by hush. */
export class HushError extends Error {
  /** The error kind, stable across releases and SDKs. */
  readonly code: string = "hush";

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A secret URI does not follow the grammar or names an unknown provider. */
export class InvalidUriError extends HushError {
  override readonly code: string = "invalid_uri";
}

/** The provider answered that the secret does not exist. */
export class NotFoundError extends HushError {
  override readonly code: string = "not_found";
}

/** The provider refused access to the secret. */
export class PermissionDeniedError extends HushError {
  override readonly code: string = "permission_denied";
}

/** The secret provider could not be reached. */
export class UnreachableError extends HushError {
  override readonly code: string = "unreachable";
}

/** The secret provider did not answer in time. */
export class SecretTimeoutError extends HushError {
  override readonly code: string = "timeout";
}

/** The secret is larger than the configured limit. */
export class TooLargeError extends HushError {
  override readonly code: string = "too_large";
}

/** Any other failure of a secret provider. */
export class ProviderError extends HushError {
  override readonly code: string = "provider";
}

/** A call does not fit the API (unknown field, bad argument). */
export class QueryError extends HushError {
  override readonly code: string = "query";
}

/** The engine could not evaluate a container (image, runtime, filesystem). */
export class EngineError extends HushError {
  override readonly code: string = "engine";
}

/** A command run in a container failed; `exitCode` is its exit code. */
export class ExecError extends EngineError {
  override readonly code: string = "exec";
  /** The failed command's exit code, when it ran to an exit. */
  readonly exitCode: number | null;

  constructor(message: string, exitCode: number | null = null) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** The connection to the hush session failed. */
export class SessionError extends HushError {
  override readonly code: string = "session";
}

const KINDS: Readonly<Record<string, new (message: string) => HushError>> = {
  invalid_uri: InvalidUriError,
  not_found: NotFoundError,
  permission_denied: PermissionDeniedError,
  unreachable: UnreachableError,
  timeout: SecretTimeoutError,
  too_large: TooLargeError,
  provider: ProviderError,
  query: QueryError,
  engine: EngineError,
  session: SessionError,
};

/** The error for an error kind of the session protocol. */
export function fromKind(kind: string, message: string, exitCode: number | null = null): HushError {
  if (kind === "exec") {
    return new ExecError(message, exitCode);
  }
  const cls = KINDS[kind] ?? HushError;
  return new cls(message);
}

/**
 * The typed error for a failure of the native connection, whose message is the session's
 * error frame as JSON (`{"kind", "message", "exit_code"}`).
 */
export function fromNative(err: unknown): Error {
  if (err instanceof HushError) {
    return err;
  }
  if (!(err instanceof Error)) {
    return new SessionError("the session connection failed");
  }
  let frame: unknown;
  try {
    frame = JSON.parse(err.message);
  } catch {
    return new SessionError(err.message);
  }
  if (typeof frame === "object" && frame !== null) {
    const { kind, message, exit_code: exitCode } = frame as Record<string, unknown>;
    if (typeof kind === "string" && typeof message === "string") {
      return fromKind(kind, message, typeof exitCode === "number" ? exitCode : null);
    }
  }
  return new SessionError(err.message);
}
