// The generated client: chain building, argument checks and conversion, types, errors, and
// evaluation against a real session (a `hush __session` child of this process).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import type { Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { inspect } from "node:util";

import * as hush from "@hush/sdk";
import { Container, HushObject, Query, Secret, dag } from "@hush/sdk";

import { SDK_ENTRY, hushBin, setUpHushHome } from "./env.js";

let cleanUp: () => void = () => {};
const temps: string[] = [];
before(() => {
  cleanUp = setUpHushHome();
});
after(() => {
  for (const dir of temps) {
    rmSync(dir, { recursive: true, force: true });
  }
  cleanUp();
});

function chain(obj: HushObject, field?: string): unknown[] {
  const [root, text] = obj._query(field);
  assert.equal(root, null);
  return JSON.parse(text) as unknown[];
}

function lastArgs(obj: HushObject): unknown {
  return (chain(obj).at(-1) as { args?: unknown }).args;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "hush-ts-test-"));
  temps.push(dir);
  return dir;
}

describe("chains (no session)", () => {
  test("a chain is built in TypeScript and serializes to the query protocol", () => {
    const token = dag.secret("env://TOKEN", { cacheKey: "k" });
    const ctr = dag
      .container()
      .from("busybox")
      .withSecretVariable("TOKEN", token)
      .withExec(["sh", "-c", "echo $TOKEN"]);
    assert.deepEqual(chain(ctr, "stdout"), [
      { field: "container" },
      { field: "from", args: { address: "busybox" } },
      {
        field: "with_secret_variable",
        args: {
          name: "TOKEN",
          secret: { chain: [{ field: "secret", args: { uri: "env://TOKEN", cache_key: "k" } }] },
        },
      },
      { field: "with_exec", args: { args: ["sh", "-c", "echo $TOKEN"] } },
      { field: "stdout" },
    ]);
  });

  test("lists of objects and maps serialize, maps wrapped", () => {
    const a = dag.secret("env://A");
    const build = dag.host().directory("/ctx").dockerBuild({
      buildArgs: ["X=1"],
      secrets: [a],
      secretMap: { id: a },
    });
    const encodedA = { chain: [{ field: "secret", args: { uri: "env://A" } }] };
    assert.deepEqual(lastArgs(build), {
      build_args: ["X=1"],
      secrets: [encodedA],
      secret_map: { map: { id: encodedA } },
    });
  });

  test("each call returns a new object and leaves its parent alone", () => {
    const base = dag.container().from("busybox");
    const a = base.withEnvVariable("A", "1");
    const b = base.withEnvVariable("B", "2");
    assert.notEqual(a, base);
    assert.notEqual(b, a);
    assert.deepEqual(chain(base), [
      { field: "container" },
      { field: "from", args: { address: "busybox" } },
    ]);
    assert.deepEqual(chain(a).at(-1), { field: "with_env_variable", args: { name: "A", value: "1" } });
    assert.deepEqual(chain(b).at(-1), { field: "with_env_variable", args: { name: "B", value: "2" } });
    assert.ok(Object.isFrozen(base));
    assert.throws(() => {
      (base as unknown as Record<string, unknown>)["field"] = "with_exec";
    }, TypeError);
    assert.throws(() => {
      Object.defineProperty(base, "parent", { value: null });
    }, TypeError);
    // Readonly arrays are accepted (a compile-time check as much as a run-time one).
    const command = ["echo", "hi"] as const;
    assert.deepEqual(lastArgs(base.withExec(command)), { args: ["echo", "hi"] });
    // Arguments are copied: changing the caller's array later changes nothing.
    const args = ["echo", "one"];
    const run = base.withExec(args);
    args[1] = "two";
    assert.deepEqual(lastArgs(run), { args: ["echo", "one"] });
  });

  test("optional arguments go in an options object, defaults filled in", () => {
    const s = dag.secret("env://X");
    assert.throws(
      () => dag.container().withMountedSecret("/s", s, "root" as never),
      { name: "TypeError", message: "opts must be an object, not string" },
    );
    assert.throws(
      () => dag.container().withMountedSecret("/s", s, { uid: "1000" } as never),
      { name: "TypeError", message: /unknown option "uid" \(expected owner, mode\)/ },
    );
    const mounted = dag.container().withMountedSecret("/s", s, { owner: "1000" });
    assert.deepEqual(lastArgs(mounted), {
      path: "/s",
      source: { chain: [{ field: "secret", args: { uri: "env://X" } }] },
      owner: "1000",
      mode: 256,
    });
    assert.deepEqual(lastArgs(dag.container().withMountedSecret("/s", s, { mode: 0o440 })), {
      path: "/s",
      source: { chain: [{ field: "secret", args: { uri: "env://X" } }] },
      mode: 0o440,
    });
    // Left-out optional arguments without a default are not sent.
    assert.deepEqual(chain(dag.secret("env://X")), [{ field: "secret", args: { uri: "env://X" } }]);
  });

  test("arguments are checked by type without echoing values", () => {
    const c = dag.container();
    assert.throws(() => c.from(3 as never), { name: "TypeError", message: "address must be a string, not number" });
    assert.throws(() => c.withExec(["sh", 1] as never), { name: "TypeError", message: /^args\[1\] must be a string/ });
    assert.throws(() => c.withExec("echo hi" as never), { name: "TypeError", message: "args must be an array, not string" });
    assert.throws(
      () => c.withMountedSecret("/s", dag.secret("env://X"), { mode: true as never }),
      { name: "TypeError", message: "mode must be an integer, not boolean" },
    );
    assert.throws(
      () => c.withMountedSecret("/s", dag.secret("env://X"), { mode: 1.5 }),
      { name: "TypeError", message: "mode must be an integer, not a fractional number" },
    );
    assert.throws(
      () => c.withSecretVariable("T", "hunter2-value" as never),
      { name: "TypeError", message: "secret must be a Secret, not string" },
    );
    assert.throws(
      () => c.withSecretVariable("T", dag.container() as never),
      { name: "TypeError", message: "secret must be a Secret, not Container" },
    );
    assert.throws(
      () => dag.host().directory("/d").dockerBuild({ secretMap: [] as never }),
      { name: "TypeError", message: "secretMap must be an object with string keys, not array" },
    );
    const err = (() => {
      try {
        dag.setSecret("n", 12345678 as never);
      } catch (e) {
        return e;
      }
      return null;
    })();
    assert.ok(err instanceof TypeError);
    assert.doesNotMatch(err.message, /12345678/);
  });

  test("TypeScript names, Promise terminals and JSDoc in the .d.ts", () => {
    assert.equal(typeof Container.prototype.from, "function");
    assert.equal(typeof (Container.prototype as unknown as Record<string, unknown>)["from_"], "undefined");
    assert.equal(typeof Container.prototype.withSecretVariable, "function");
    assert.equal(Container.typeName, "Container");
    const dts = readFileSync(new URL("../dist/generated.d.ts", import.meta.url), "utf8");
    assert.match(dts, /withSecretVariable\(name: string, secret: Secret\): Container;/);
    assert.match(dts, /withExec\(args: readonly string\[\]\): Container;/);
    assert.match(dts, /readonly secretMap\?: Readonly<Record<string, Secret>>;/);
    assert.match(dts, /stdout\(\): Promise<string>;/);
    assert.match(dts, /sync\(\): Promise<Container>;/);
    assert.match(dts, /plaintext\(\): Promise<string>;/);
    assert.match(dts, /setSecret\(name: string, plaintext: string\): Secret;/);
    assert.match(dts, /secret\(uri: string, opts\?: QuerySecretOpts\): Secret;/);
    assert.match(dts, /readonly cacheKey\?: string;/);
    assert.match(dts, /\* Runs a command in the container\.\n\s+\*\n\s+\* @param args - The command and its arguments\./);
    assert.match(dts, /@defaultValue `256`/);
    assert.ok(dag instanceof Query);
    // Types are nominal: a Container has a Host's methods, yet is no Host.
    // @ts-expect-error a Container is not a Host
    const notAHost: hush.Host = dag.container();
    assert.ok(notAHost instanceof Container);
  });

  test("error classes share one base and carry a stable code", () => {
    const codes: Record<string, string> = {
      InvalidUriError: "invalid_uri",
      NotFoundError: "not_found",
      PermissionDeniedError: "permission_denied",
      UnreachableError: "unreachable",
      SecretTimeoutError: "timeout",
      TooLargeError: "too_large",
      ProviderError: "provider",
      QueryError: "query",
      EngineError: "engine",
      ExecError: "exec",
      SessionError: "session",
    };
    for (const [name, code] of Object.entries(codes)) {
      const cls = (hush as unknown as Record<string, new (m: string) => hush.HushError>)[name];
      assert.ok(cls, name);
      const err = new cls("m");
      assert.ok(err instanceof hush.HushError && err instanceof Error, name);
      assert.equal(err.code, code);
      assert.equal(err.name, name);
    }
    assert.equal(new hush.HushError("m").code, "hush");
    assert.ok(new hush.ExecError("x", 3) instanceof hush.EngineError);
    assert.equal(new hush.ExecError("x", 3).exitCode, 3);
  });

  test("toString and inspect show the chain, never a value", () => {
    const ctr = dag.container().from("busybox").withSecretVariable("T", dag.secret("env://T"));
    assert.equal(
      String(ctr),
      'Container(container().from(address="busybox").with_secret_variable(name="T", secret=Secret(secret(uri="env://T"))))',
    );
    assert.equal(inspect(ctr), String(ctr));
    assert.equal(JSON.stringify(ctr), "{}");
  });
});

describe("against a session", () => {
  test("secrets resolve and read only through plaintext", async () => {
    const token = dag.secret("env://HUSH_SDK_TEST_TOKEN");
    assert.equal(await token.name(), "env://HUSH_SDK_TEST_TOKEN");
    assert.equal(await token.plaintext(), "sdk-token-value-1");
    const keyed = dag.secret("env://HUSH_SDK_TEST_TOKEN", { cacheKey: "rotating" });
    assert.equal(await keyed.plaintext(), "sdk-token-value-1");
    const made = dag.setSecret("made", "made-value-22");
    assert.ok(made instanceof Secret);
    for (const shown of [String(made), inspect(made), JSON.stringify(made), inspect(made, { showHidden: true })]) {
      assert.doesNotMatch(shown, /made-value-22/);
    }
    assert.equal(await made.name(), "made");
    assert.equal(await made.plaintext(), "made-value-22");
    assert.equal(await dag.setSecret("utf8", "hé ✓").plaintext(), "hé ✓");
  });

  test("typed errors from the session", async () => {
    await assert.rejects(dag.secret("env://HUSH_SDK_TEST_MISSING").plaintext(), (err: unknown) => {
      assert.ok(err instanceof hush.NotFoundError);
      assert.equal(err.code, "not_found");
      assert.match(err.message, /HUSH_SDK_TEST_MISSING/);
      return true;
    });
    await assert.rejects(dag.secret("nope://x").plaintext(), hush.InvalidUriError);
    await assert.rejects(
      dag.container().from("busybox").withExec(["sh", "-c", "exit 3"]).sync(),
      (err: unknown) => {
        assert.ok(err instanceof hush.ExecError);
        assert.ok(err instanceof hush.EngineError);
        assert.equal(err.code, "exec");
        assert.equal(err.exitCode, 3);
        return true;
      },
    );
  });

  test("containers run with scrubbed output", async () => {
    const ctr = dag
      .container()
      .from("busybox")
      .withSecretVariable("MY_SECRET", dag.secret("env://HUSH_SDK_TEST_EXEC"))
      .withExec(["sh", "-c", "echo this is the secret: $MY_SECRET"]);
    const synced = await ctr.sync();
    assert.ok(synced instanceof Container);
    assert.match(String(synced), /^Container\(id="/);
    assert.equal(await synced.stdout(), "this is the secret: ***\n");
    assert.equal(await ctr.exitCode(), 0);
  });

  test("cache volumes, tmpfs and mounted files", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "app.conf"), "port=80\n");
    const key = `sdk-ts-test-${process.pid}-${Date.now()}`;
    const cache = dag.cacheVolume(key);
    const run = (n: number): Container =>
      dag
        .container()
        .from("busybox")
        .withMountedCache("/cache", cache, { sharing: "locked" })
        .withExec(["sh", "-c", `echo ${n} >> /cache/runs; cat /cache/runs`]);
    assert.equal(await run(1).stdout(), "1\n");
    assert.equal(await run(2).stdout(), "1\n2\n");
    assert.equal(await cache.key(), key);
    const ctr = dag
      .container()
      .from("busybox")
      .withMountedTemp("/scratch", { size: 1 << 20 })
      .withMountedFile("/etc/app.conf", dag.host().file(join(dir, "app.conf")))
      .withExec(["sh", "-c", "cat /etc/app.conf; echo x > /scratch/f; cat /scratch/f"]);
    assert.equal(await ctr.stdout(), "port=80\nx\n");
    const bad = dag.container().from("busybox").withMountedCache("/c", cache, { sharing: "sometimes" });
    await assert.rejects(bad.withExec(["true"]).sync(), (err: unknown) => {
      assert.ok(err instanceof hush.QueryError);
      assert.match(err.message, /shared, private or locked/);
      return true;
    });
  });

  test("dag works from a plain script", () => {
    const dir = tempDir();
    const script = join(dir, "script.mjs");
    writeFileSync(
      script,
      `import { dag } from ${JSON.stringify(SDK_ENTRY)};\n` +
        "const token = dag.secret('env://SCRIPT_TOKEN');\n" +
        "const out = await dag.container().from('busybox')\n" +
        "  .withSecretVariable('T', token)\n" +
        "  .withExec(['sh', '-c', 'echo token=$T'])\n" +
        "  .stdout();\n" +
        "process.stdout.write(out);\n",
    );
    const out = spawnSync(process.execPath, [script], {
      encoding: "utf8",
      env: { ...process.env, SCRIPT_TOKEN: "script-token-value" },
    });
    assert.deepEqual([out.status, out.stdout], [0, "token=***\n"], out.stderr);
  });

  test("inside hush call: the inherited HUSH_SESSION_FD is used, then dropped from the env", async () => {
    // As `hush call` does for a module process: a session on one end of a socketpair, the
    // script's fd 3 the other end. HUSH_BIN names nothing, so the script cannot start its own.
    const session = spawn(hushBin(), ["__session", "--fd", "3"], {
      stdio: ["ignore", "inherit", "inherit", "pipe"],
      env: { ...process.env, FD_TOKEN: "fd-token-value" },
    });
    const sessionClosed = once(session, "close");
    const theirs = session.stdio[3] as Socket;
    const dir = tempDir();
    const script = join(dir, "script.mjs");
    writeFileSync(
      script,
      `import { dag } from ${JSON.stringify(SDK_ENTRY)};\n` +
        "const out = await dag.container().from('busybox')\n" +
        "  .withSecretVariable('T', dag.secret('env://FD_TOKEN'))\n" +
        "  .withExec(['sh', '-c', 'echo token=$T']).stdout();\n" +
        "process.stdout.write(`${out}fd=${process.env.HUSH_SESSION_FD ?? 'gone'}\\n`);\n",
    );
    const child = spawn(process.execPath, [script], {
      stdio: ["ignore", "pipe", "pipe", theirs],
      env: { ...process.env, HUSH_SESSION_FD: "3", HUSH_BIN: "/nonexistent/hush" },
    });
    theirs.destroy();
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, "close")) as [number];
    assert.deepEqual([code, stdout], [0, "token=***\nfd=gone\n"], stderr);
    // The session ends when the script's end of the channel closes.
    const [sessionCode] = (await sessionClosed) as [number];
    assert.equal(sessionCode, 0);
  });

  test("requests run concurrently", async () => {
    // Two secrets whose commands wait for each other resolve only if both run at once.
    const dir = tempDir();
    for (const [me, other] of [
      ["a", "b"],
      ["b", "a"],
    ] as const) {
      const path = join(dir, `${me}.sh`);
      writeFileSync(
        path,
        `touch ${dir}/${me}.started\n` +
          `i=0; while [ ! -e ${dir}/${other}.started ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done\n` +
          `[ -e ${dir}/${other}.started ] && echo rendezvous-${me}-value\n`,
      );
      chmodSync(path, 0o755);
    }
    const a = dag.secret(`cmd://${dir}/a.sh`);
    const b = dag.secret(`cmd://${dir}/b.sh`);
    assert.deepEqual(await Promise.all([a.plaintext(), b.plaintext()]), [
      "rendezvous-a-value",
      "rendezvous-b-value",
    ]);
  });
});
