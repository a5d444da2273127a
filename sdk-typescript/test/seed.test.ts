// The seed sample (seeds/001, "Use secret variables"), ported to the TypeScript SDK as a plain
// script's chain: only the image name changed (busybox, as these machines have no internet).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { dag } from "@hush/sdk";

import { setUpHushHome } from "./env.js";

let cleanUp: () => void = () => {};
before(() => {
  cleanUp = setUpHushHome();
  process.env["API_TOKEN"] = "seed-api-token-value";
});
after(() => cleanUp());

test("seed 001: a secret variable is scrubbed from stdout", async () => {
  const out = await dag
    .container()
    .from("busybox")
    .withSecretVariable("MY_SECRET", dag.secret("env://API_TOKEN"))
    .withExec(["sh", "-c", "echo this is the secret: $MY_SECRET"])
    .stdout();
  assert.equal(out, "this is the secret: ***\n");
});
