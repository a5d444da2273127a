/**
 * The runtime under the generated client: immutable selection chains, argument checks and
 * conversion, and the connection to the hush session.
 *
 * Building a chain is pure TypeScript: every call returns a new frozen object that points at
 * its parent with one more selection. Only a terminal call (a value, `sync`, `plaintext`)
 * serializes the chain to the JSON query protocol and sends it to the session.
 *
 * @module
 */

import { createRequire } from "node:module";

import { QueryError, SessionError, fromNative } from "./errors.js";

/** An argument value: a scalar, a list, a map with string keys, or an object of the API. */
export type Input =
  | null
  | boolean
  | number
  | string
  | readonly Input[]
  | { readonly [key: string]: Input }
  | HushObject;

/** The arguments of one selection, by their name on the wire. */
export type Args = Record<string, Input>;

/** A class of the API (what `inObject` and `outObject` take). */
export interface ObjectClass<T extends HushObject> {
  new (parent: HushObject | null, field: string, args: Args, id?: string | null): T;
  readonly typeName: string;
}

/** One selection of the query protocol. */
interface Selection {
  field: string;
  args?: Record<string, unknown>;
}

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** An object of the API: a chain of selections from the root, or an id the session gave. */
export class HushObject {
  /** The API type's name. */
  static readonly typeName: string = "Object";

  readonly #parent: HushObject | null;
  readonly #field: string;
  readonly #args: Readonly<Args>;
  readonly #id: string | null;

  /**
   * One more selection (`field` with `args`) on `parent`, or with `id` an object the session
   * handed out. The generated methods call this; there is rarely a reason to.
   */
  constructor(parent: HushObject | null, field: string, args: Args, id: string | null = null) {
    this.#parent = parent;
    this.#field = field;
    this.#args = Object.freeze({ ...args });
    this.#id = id;
    Object.freeze(this);
  }

  /** The root id (`null` for the API root) and the nodes from it to this object. */
  #path(): [string | null, HushObject[]] {
    const nodes: HushObject[] = [];
    let node: HushObject = this;
    while (node.#parent !== null) {
      nodes.push(node);
      node = node.#parent;
    }
    nodes.reverse();
    return [node.#id, nodes];
  }

  #typeName(): string {
    return (this.constructor as typeof HushObject).typeName;
  }

  /**
   * @internal The root id and the JSON chain of this object, plus one more selection if
   * given (what a terminal call sends).
   */
  _query(field?: string, args: Args = {}): [string | null, string] {
    const [root, nodes] = this.#path();
    const chain = nodes.map((n) => selection(n.#field, n.#args));
    if (field !== undefined) {
      chain.push(selection(field, args));
    }
    return [root, JSON.stringify(chain)];
  }

  /** @internal This object as an argument of the query protocol. */
  _encode(): unknown {
    const [root, nodes] = this.#path();
    if (nodes.length === 0) {
      if (root === null) {
        throw new QueryError("the API root cannot be an argument");
      }
      return { id: root };
    }
    if (root !== null) {
      throw new QueryError(
        `${this.#typeName()} built on an object handle cannot be an argument yet`,
      );
    }
    return { chain: nodes.map((n) => selection(n.#field, n.#args)) };
  }

  /** Evaluates the chain plus `field(args)` in the session; its output, decoded. */
  protected async _evaluate(field: string, args: Args): Promise<unknown> {
    const [root, chain] = this._query(field, args);
    return evaluate(chain, root);
  }

  /** The id of the secret this object names, evaluating its chain if needed. */
  async #secretId(): Promise<string> {
    if (this.#id !== null && this.#parent === null) {
      return this.#id;
    }
    const [root, chain] = this._query();
    return outputId(await evaluate(chain, root), this.#typeName());
  }

  /** The value of the secret this object names: the only way to it. */
  protected async _plaintext(): Promise<string> {
    const id = await this.#secretId();
    const conn = connection();
    let bytes: Buffer;
    try {
      bytes = await conn.plaintext(id);
    } catch (err) {
      throw fromNative(err);
    }
    try {
      return new TextDecoder("utf-8").decode(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** The chain, e.g. `Container(container().from(address="busybox"))`; never a value. */
  toString(): string {
    const [root, nodes] = this.#path();
    const steps = nodes.map((n) => `${n.#field}(${showArgs(n.#args)})`);
    const head = root !== null ? [`id=${JSON.stringify(root)}`] : [];
    return `${this.#typeName()}(${[...head, ...steps].join(".")})`;
  }

  /** What `console.log` and `util.inspect` show: {@link HushObject.toString}. */
  [INSPECT](): string {
    return this.toString();
  }
}

function selection(field: string, args: Readonly<Args>): Selection {
  const names = Object.keys(args);
  if (names.length === 0) {
    return { field };
  }
  const encoded: Record<string, unknown> = {};
  for (const name of names) {
    encoded[name] = encode(args[name] as Input);
  }
  return { field, args: encoded };
}

function encode(value: Input): unknown {
  if (value instanceof HushObject) {
    return value._encode();
  }
  if (value === null || typeof value !== "object") {
    return value;
  }
  if (Array.isArray(value)) {
    return (value as readonly Input[]).map(encode);
  }
  // Wrapped, so that a key can never be read as an object's `chain` or `id`.
  const map: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as { readonly [key: string]: Input })) {
    map[key] = encode(item);
  }
  return { map };
}

function showArgs(args: Readonly<Args>): string {
  return Object.entries(args)
    .map(([name, value]) => `${name}=${show(value)}`)
    .join(", ");
}

function show(value: Input): string {
  if (value instanceof HushObject) {
    return value.toString();
  }
  if (Array.isArray(value)) {
    return `[${(value as readonly Input[]).map(show).join(", ")}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as { readonly [key: string]: Input });
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${show(v)}`).join(", ")}}`;
  }
  return JSON.stringify(value);
}

/** Evaluates a JSON chain in the session; its output, decoded. */
export async function evaluate(chain: string, root: string | null): Promise<unknown> {
  const conn = connection();
  let output: string;
  try {
    output = await conn.evaluate(chain, root);
  } catch (err) {
    throw fromNative(err);
  }
  return JSON.parse(output) as unknown;
}

/** The type of `value` as an error message names it; never the value itself. */
function describe(value: unknown): string {
  if (value === null) {
    return "null";
  }
  if (Array.isArray(value)) {
    return "array";
  }
  if (typeof value === "number" && Number.isFinite(value) && !Number.isInteger(value)) {
    return "a fractional number";
  }
  if (typeof value === "object") {
    const name = (value as object).constructor?.name;
    return name && name !== "Object" ? name : "object";
  }
  return typeof value;
}

/** A check of one argument: its value, or a `TypeError` naming the argument and the type. */
export type Check<T> = (value: unknown, name: string) => T;

/** Checks a String argument. */
export function inStr(value: unknown, name: string): string {
  if (typeof value === "string") {
    return value;
  }
  throw new TypeError(`${name} must be a string, not ${describe(value)}`);
}

/** Checks an Int argument (a safe integer). */
export function inInt(value: unknown, name: string): number {
  if (typeof value === "number" && Number.isSafeInteger(value)) {
    return value;
  }
  throw new TypeError(`${name} must be an integer, not ${describe(value)}`);
}

/** Checks a Boolean argument. */
export function inBool(value: unknown, name: string): boolean {
  if (typeof value === "boolean") {
    return value;
  }
  throw new TypeError(`${name} must be a boolean, not ${describe(value)}`);
}

/** Checks a list argument (an array) item by item, into a new array. */
export function inList<T>(item: Check<T>): Check<T[]> {
  return (value, name) => {
    if (!Array.isArray(value)) {
      throw new TypeError(`${name} must be an array, not ${describe(value)}`);
    }
    return value.map((v: unknown, i) => item(v, `${name}[${i}]`));
  };
}

/** Checks a map argument (a plain object) entry by entry, into a new object. */
export function inMap<T>(item: Check<T>): Check<Record<string, T>> {
  return (value, name) => {
    if (!isPlainObject(value)) {
      throw new TypeError(`${name} must be an object with string keys, not ${describe(value)}`);
    }
    const checked: Record<string, T> = {};
    for (const [key, v] of Object.entries(value)) {
      checked[key] = item(v, `${name}[${JSON.stringify(key)}]`);
    }
    return checked;
  };
}

/** Checks an object argument. */
export function inObject<T extends HushObject>(cls: ObjectClass<T>): Check<T> {
  return (value, name) => {
    if (value instanceof cls) {
      return value;
    }
    throw new TypeError(`${name} must be a ${cls.typeName}, not ${describe(value)}`);
  };
}

/** Checks an options object: a plain object whose keys are among `known`. */
export function inOptions<T extends object>(opts: T, known: readonly string[]): T {
  if (!isPlainObject(opts)) {
    throw new TypeError(`opts must be an object, not ${describe(opts)}`);
  }
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `unknown option ${JSON.stringify(key)} (expected ${known.join(", ")})`,
      );
    }
  }
  return opts;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return false;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A String result. */
export function outStr(value: unknown): string {
  if (typeof value === "string") {
    return value;
  }
  throw new QueryError(`the session returned ${describe(value)} for a String`);
}

/** An Int result. */
export function outInt(value: unknown): number {
  if (typeof value === "number" && Number.isInteger(value)) {
    return value;
  }
  throw new QueryError(`the session returned ${describe(value)} for an Int`);
}

/** A Boolean result. */
export function outBool(value: unknown): boolean {
  if (typeof value === "boolean") {
    return value;
  }
  throw new QueryError(`the session returned ${describe(value)} for a Boolean`);
}

/** A list result. */
export function outList<T>(item: (value: unknown) => T): (value: unknown) => T[] {
  return (value) => {
    if (Array.isArray(value)) {
      return value.map((v: unknown) => item(v));
    }
    throw new QueryError(`the session returned ${describe(value)} for a list`);
  };
}

/** An object result: `{"type": ..., "id": ...}`. */
export function outObject<T extends HushObject>(cls: ObjectClass<T>): (value: unknown) => T {
  return (value) => new cls(null, "", {}, outputId(value, cls.typeName));
}

function outputId(value: unknown, typeName: string): string {
  if (isPlainObject(value) && value["type"] === typeName && typeof value["id"] === "string") {
    return value["id"];
  }
  throw new QueryError(`the session did not return a ${typeName}`);
}

/**
 * A secret made in the session from a value; the value never enters a chain. The value
 * crosses to the native connection as UTF-8 bytes in a buffer that is zeroed afterwards.
 */
export function setSecret<T extends HushObject>(cls: ObjectClass<T>, name: string, plaintext: string): T {
  const conn = connection();
  const bytes = Buffer.from(plaintext, "utf8");
  let id: string;
  try {
    id = conn.setSecret(name, bytes);
  } catch (err) {
    throw fromNative(err);
  } finally {
    bytes.fill(0);
  }
  return new cls(null, "", {}, id);
}

/** The native connection (`bindings/node`, loaded from `hush.node`). */
interface NativeConnection {
  evaluate(chainJson: string, root?: string | null): Promise<string>;
  setSecret(name: string, plaintext: Buffer): string;
  plaintext(secretId: string): Promise<Buffer>;
  close(): void;
}

interface NativeModule {
  Connection: { open(fd: number | null, hushBin: string): NativeConnection };
}

/** Where the addon is: `HUSH_NODE_ADDON`, else `hush.node` at the package root. */
function loadNative(): NativeModule {
  const require = createRequire(import.meta.url);
  const path = process.env["HUSH_NODE_ADDON"] || new URL("../hush.node", import.meta.url).pathname;
  try {
    return require(path) as NativeModule;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new SessionError(
      `cannot load the hush native addon (${path}): ${why}; build it with \`npm run build:native\``,
    );
  }
}

let current: NativeConnection | null = null;

/**
 * The process's connection to its hush session, opened on first use.
 *
 * Inside `hush call` it is the channel the CLI handed over (`HUSH_SESSION_FD`, removed from
 * the environment once read); otherwise a `hush __session` child started here (`HUSH_BIN`,
 * else `hush` on `PATH`). It ends when the process exits.
 */
export function connection(): NativeConnection {
  if (current === null) {
    const fd = process.env["HUSH_SESSION_FD"];
    delete process.env["HUSH_SESSION_FD"];
    const hushBin = process.env["HUSH_BIN"] || "hush";
    const native = loadNative();
    let conn: NativeConnection;
    try {
      conn = native.Connection.open(fd ? Number(fd) : null, hushBin);
    } catch (err) {
      throw fromNative(err);
    }
    current = conn;
    process.once("exit", () => {
      try {
        conn.close();
      } catch {
        // The session is gone already: nothing to end.
      }
    });
  }
  return current;
}
