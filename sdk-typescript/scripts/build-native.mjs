// Builds the native addon (bindings/node, the hush-node crate) with cargo and copies it to
// hush.node at the package root, where @hush/sdk loads it. `--release` for an optimised build.
import { execFileSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const release = process.argv.includes("--release");
const cargo = process.env.CARGO || "cargo";
const metadata = JSON.parse(
  execFileSync(cargo, ["metadata", "--format-version", "1", "--no-deps"], { cwd: root, encoding: "utf8" }),
);
execFileSync(cargo, ["build", "-p", "hush-node", ...(release ? ["--release"] : [])], { cwd: root, stdio: "inherit" });
const built = `${metadata.target_directory}/${release ? "release" : "debug"}/libhush_node.so`;
copyFileSync(built, `${root}/hush.node`);
console.log(`build-native: ${built} -> hush.node`);
