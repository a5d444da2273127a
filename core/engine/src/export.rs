//! Access to an evaluated container's filesystem layers, for exporting it as an image.

use std::path::PathBuf;

use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::model::{Container, DirSource};

impl Container {
    /// The filesystem layer directories of the evaluated container, lowest first: its
    /// image's layers, then one per exec (and `with_new_file`) that changed something. They
    /// are in overlayfs form (a whiteout is a 0/0 character device, an opaque directory has
    /// `trusted.overlay.opaque=y`), stay valid while `engine` lives, and must only be read.
    /// Fails like [`sync`](Self::sync) when an exec failed.
    pub async fn layer_dirs(&self, engine: &Engine) -> Result<Vec<PathBuf>> {
        let root = self.directory(engine, "/").await?;
        match &*root.0 {
            DirSource::Layers { layers, .. } => {
                Ok(layers.iter().map(|l| l.path().to_path_buf()).collect())
            }
            DirSource::Host(_) => Err(EngineError::NoImage),
        }
    }
}
