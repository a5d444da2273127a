//! `hush init --sdk=python [DIR]`: scaffolds a module.

use std::path::{Path, PathBuf};

use clap::Args;
use hush_console::Console;

use super::call::{main_object, Manifest};
use crate::exit::Failure;
use crate::output::print;

/// `hush init`.
#[derive(Args)]
pub struct InitArgs {
    /// The module's SDK.
    #[arg(long, value_parser = ["python"])]
    sdk: String,
    /// The module's name (default: the directory's name).
    #[arg(long)]
    name: Option<String>,
    /// The module directory, created if missing.
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// Writes `hush.json`, `pyproject.toml` and `src/main.py`; refuses to overwrite a module.
pub fn run(args: InitArgs, console: &Console) -> Result<u8, Failure> {
    let manifest_path = args.dir.join("hush.json");
    if manifest_path.exists() {
        return Err(Failure::Usage(format!(
            "{} already exists",
            manifest_path.display()
        )));
    }
    let name = match args.name {
        Some(name) => name,
        None => dir_name(&args.dir)?,
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || !name.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return Err(Failure::Usage(format!(
            "{name:?} is not a module name: use letters, digits, - and _, starting with a letter (or pass --name)"
        )));
    }
    let manifest = Manifest {
        name: name.clone(),
        sdk: args.sdk,
        source: "src/main.py".into(),
    };
    let object = main_object(&name);
    let package = name.replace('_', "-");
    let files = [
        (
            "hush.json",
            serde_json::to_string_pretty(&manifest).expect("serializes") + "\n",
        ),
        (
            "pyproject.toml",
            format!(
                "[project]\nname = \"{package}\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\ndependencies = [\"hush\"]\n"
            ),
        ),
        ("src/main.py", main_py(&object)),
    ];
    for (path, contents) in files {
        let path = args.dir.join(path);
        let io = |e: std::io::Error| Failure::Work(format!("cannot write {}: {e}", path.display()));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, contents).map_err(io)?;
    }
    let done = format!(
        "Initialized python module {name} in {}\nTry: hush call -m {} container-echo --string-arg=hello\n",
        args.dir.display(),
        args.dir.display()
    );
    print(console, done.as_bytes())?;
    Ok(0)
}

fn dir_name(dir: &Path) -> Result<String, Failure> {
    let absolute = std::path::absolute(dir)
        .map_err(|e| Failure::Usage(format!("bad directory {}: {e}", dir.display())))?;
    Ok(absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default())
}

fn main_py(object: &str) -> String {
    format!(
        r#"from typing import Annotated

from hush import Doc, Secret, dag, function, object_type


@object_type
class {object}:
    @function
    async def container_echo(
        self, string_arg: Annotated[str, Doc("The text to echo")]
    ) -> str:
        """Echoes its argument in a busybox container."""
        return await (
            dag.container().from_("busybox").with_exec(["echo", string_arg]).stdout()
        )

    @function
    async def secret_length(
        self, token: Annotated[Secret, Doc("Any secret, e.g. env://TOKEN")]
    ) -> int:
        """The length of a secret's value, which is never printed."""
        return len(await token.plaintext())
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaffold_names_the_object_after_the_module() {
        let dir = std::env::temp_dir().join(format!("hush-init-test-{}", std::process::id()));
        let target = dir.join("my-module");
        let args = InitArgs {
            sdk: "python".into(),
            name: None,
            dir: target.clone(),
        };
        let (console, printed) = Console::capture(Default::default());
        assert_eq!(run(args, &console).unwrap(), 0);
        let printed = String::from_utf8(printed.lock().unwrap().out.clone()).unwrap();
        assert!(printed.starts_with("Initialized python module my-module in "));
        let manifest: Manifest =
            serde_json::from_slice(&std::fs::read(target.join("hush.json")).unwrap()).unwrap();
        assert_eq!(manifest.name, "my-module");
        assert_eq!(manifest.source, "src/main.py");
        let source = std::fs::read_to_string(target.join("src/main.py")).unwrap();
        assert!(source.contains("class MyModule:"));
        let again = InitArgs {
            sdk: "python".into(),
            name: None,
            dir: target.clone(),
        };
        assert!(matches!(run(again, &console), Err(Failure::Usage(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
