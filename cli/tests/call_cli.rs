//! `hush call` against a stand-in module runtime: a Python script (no SDK needed) that speaks
//! the session protocol (`cli/src/module/protocol.rs`) as `$HUSH_PYTHON`, describing one
//! function with two Secret arguments and returning at once.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

mod common;

use common::{hush, text};

/// The stand-in runtime: describe, take the call, return `"done"`.
const RUNTIME: &str = r#"#!/usr/bin/env python3
import json, socket, struct
channel = socket.socket(fileno=3)
def send(frame):
    body = json.dumps(frame).encode()
    channel.sendall(struct.pack(">I", len(body)) + body)
def receive():
    head = channel.recv(4, socket.MSG_WAITALL)
    return json.loads(channel.recv(struct.unpack(">I", head)[0], socket.MSG_WAITALL))
secret = lambda name, optional: {"name": name, "type": "Secret", "optional": optional}
send({"seq": 1, "op": "describe", "module": {"name": "PairModule", "functions": [
    {"name": "pair", "args": [secret("b", False), secret("a", True)], "returns": "String"}]}})
if receive().get("ok"):
    send({"seq": 2, "op": "return", "value": "done"})
    receive()
"#;

fn call(dir: &Path, flags: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let module = dir.to_str().unwrap();
    let mut args = vec!["call", "-m", module, "pair"];
    args.extend_from_slice(flags);
    let runtime = dir.join("runtime");
    hush(
        home.path(),
        &args,
        &[("HUSH_PYTHON", runtime.to_str().unwrap())],
    )
}

#[test]
fn a_failing_secret_flag_is_scrubbed_of_the_secret_flags_after_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hush.json"),
        r#"{"name": "pair-module", "sdk": "python", "source": "src/main.py"}"#,
    )
    .unwrap();
    let runtime = dir.path().join("runtime");
    std::fs::write(&runtime, RUNTIME).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o755)).unwrap();
    let later = dir.path().join("later");
    std::fs::write(&later, "later-file-secret-Wp04").unwrap();
    let failing = format!("--b=cmd://cat {} >&2; exit 3", later.display());
    let named = format!("--a=file://{}", later.display());

    // The runtime works: with secrets that resolve, the call returns.
    let resolving = format!("--b=file://{}", later.display());
    let ok = call(dir.path(), &[&resolving, &named]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_eq!(text(&ok.stdout), "done\n");

    let out = call(dir.path(), &[&failing, &named]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("exited with code 3; stderr: ***"),
        "{stderr}"
    );
    assert!(!stderr.contains("later-file-secret-Wp04"), "{stderr}");
    // Control: when the file is not a secret of the call, its content is shown.
    let out = call(dir.path(), &[&failing]);
    assert!(
        text(&out.stderr).contains("stderr: later-file-secret-Wp04"),
        "{}",
        text(&out.stderr)
    );
}
