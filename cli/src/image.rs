//! `hush image import|ls|rm`: the local image store at `<hush home>/images`.

use std::path::PathBuf;
use std::time::SystemTime;

use clap::{Args, Subcommand};
use hush_console::Console;
use hush_image::{ImageError, ImageStore, ImageSummary};
use hush_session::Session;

use crate::exit::Failure;
use crate::output::{age, columns, human_size, print};

/// Image subcommands.
#[derive(Subcommand)]
pub enum ImageCommand {
    /// Load an OCI image layout directory, an OCI archive (.tar, .tar.gz) or a root file
    /// system tarball (.tar, .tar.gz; becomes a one-layer image).
    Import(ImportArgs),
    /// List stored images: name, digest, size, creation time.
    #[command(visible_alias = "list")]
    Ls,
    /// Remove images by name (untags) or digest (removes every tag); blobs no image uses any
    /// more are deleted.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
}

/// Arguments of `hush image import`.
#[derive(Args)]
pub struct ImportArgs {
    /// Tag the image NAME[:TAG] (default tag `latest`); an OCI layout's own name otherwise.
    #[arg(long, short = 't', value_name = "NAME")]
    tag: Option<String>,
    /// The OCI layout directory, OCI archive or root file system tarball.
    path: PathBuf,
}

/// Arguments of `hush image rm`.
#[derive(Args)]
pub struct RmArgs {
    /// Image names (busybox, busybox:1.36) or digests (sha256:..., or a prefix of 6+ digits).
    #[arg(required = true, value_name = "NAME")]
    names: Vec<String>,
}

/// Runs an image subcommand.
pub fn run(cmd: ImageCommand, session: &Session) -> Result<(), Failure> {
    let home = session.home().map_err(|e| Failure::Work(e.to_string()))?;
    let store = ImageStore::open(&home.join("images")).map_err(failure)?;
    match cmd {
        ImageCommand::Import(args) => {
            let imported = store
                .import(&args.path, args.tag.as_deref())
                .map_err(failure)?;
            print(
                session.console(),
                format!("imported {imported}\n").as_bytes(),
            )
        }
        ImageCommand::Ls => print(
            session.console(),
            table(&store.list().map_err(failure)?).as_bytes(),
        ),
        ImageCommand::Rm(args) => remove(&store, &args.names, session.console()),
    }
}

/// Removes each name in turn; failures are reported together after the others are done.
fn remove(store: &ImageStore, names: &[String], console: &Console) -> Result<(), Failure> {
    let mut errors = Vec::new();
    for name in names {
        match store.remove(name) {
            Ok(()) => print(console, format!("removed {name}\n").as_bytes())?,
            Err(err) => errors.push(err),
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let message = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if errors.iter().all(ImageError::is_usage) {
        Err(Failure::Usage(message))
    } else {
        Err(Failure::Work(message))
    }
}

fn failure(err: ImageError) -> Failure {
    if err.is_usage() {
        Failure::Usage(err.to_string())
    } else {
        Failure::Work(err.to_string())
    }
}

/// The `ls` table: one row per tag (untagged images show `<none>`), newest first.
fn table(images: &[ImageSummary]) -> String {
    let now = SystemTime::now();
    let mut rows = vec![[
        "NAME".to_string(),
        "DIGEST".into(),
        "SIZE".into(),
        "CREATED".into(),
    ]];
    for image in images {
        let short = image.digest.digest().chars().take(12).collect::<String>();
        let size = human_size(image.size);
        let created = image
            .created_at()
            .map_or_else(|| "-".to_string(), |c| age(c, now));
        let untagged = ["<none>".to_string()];
        let names = if image.names.is_empty() {
            &untagged[..]
        } else {
            &image.names[..]
        };
        for name in names {
            rows.push([name.clone(), short.clone(), size.clone(), created.clone()]);
        }
    }
    columns(&rows)
}
