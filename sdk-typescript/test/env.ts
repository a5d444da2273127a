// Test setup: the hush binary, a private HUSH_HOME with a busybox image imported from
// Debian's busybox-static (scripts/busybox-rootfs.sh), and a helper to run the CLI.
import { execFileSync, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (dist-test/ is two levels under it). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The SDK's compiled entry point, for scripts run outside this package. */
export const SDK_ENTRY = new URL("../dist/index.js", import.meta.url).href;

export function hushBin(): string {
  const path = resolve(process.env["HUSH_BIN"] || join(ROOT, "target", "debug", "hush"));
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`build hush first (${path}); \`make test-typescript\` does`);
  }
  return path;
}

/**
 * Sets HUSH_HOME (a fresh directory with busybox imported), HUSH_BIN and the test secrets in
 * this process's environment, which the session started on first use of `dag` inherits.
 * Returns a function that removes the home.
 */
export function setUpHushHome(): () => void {
  const bin = hushBin();
  const home = mkdtempSync(join(tmpdir(), "hush-ts-home-"));
  const cleanUp = (): void => rmSync(home, { recursive: true, force: true });
  try {
    const tarball = join(home, "busybox.tar.gz");
    execFileSync(join(ROOT, "scripts", "busybox-rootfs.sh"), [tarball]);
    Object.assign(process.env, {
      HUSH_HOME: home,
      HUSH_BIN: bin,
      HUSH_SDK_TEST_TOKEN: "sdk-token-value-1",
      HUSH_SDK_TEST_EXEC: "exec-secret-value-9",
    });
    execFileSync(bin, ["image", "import", "--tag", "busybox", tarball], { stdio: "pipe" });
  } catch (err) {
    cleanUp();
    throw err;
  }
  return cleanUp;
}

/** Runs the CLI with the test environment plus `env`. */
export function runHush(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(hushBin(), args, { encoding: "utf8", env: { ...process.env, ...env } });
}
