//! Where `from(address)` finds images.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::RwLock;

use crate::error::{EngineError, Result};

/// The parts of an image config that execs use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// `NAME=value` variables.
    pub env: Vec<String>,
    /// Working directory, if set.
    pub workdir: Option<String>,
    /// User (`uid`, `uid:gid`, `user` or `user:group`), if set.
    pub user: Option<String>,
}

/// An image resolved to unpacked layers.
#[derive(Clone, Debug)]
pub struct ResolvedImage {
    /// Unpacked layer directories in overlayfs form, lowest first.
    pub layers: Vec<PathBuf>,
    /// The image config.
    pub config: ImageConfig,
}

/// A source of images for `from`.
pub trait ImageSource: Send + Sync {
    /// Resolves `address`; `Ok(None)` when the source does not have it.
    fn resolve(&self, address: &str) -> Result<Option<ResolvedImage>>;
}

/// Images that are plain root filesystem directories registered by name (tests, benches,
/// and hosts that keep unpacked root filesystems around).
#[derive(Default)]
pub struct DirImages {
    images: RwLock<HashMap<String, ResolvedImage>>,
}

impl DirImages {
    /// No images.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `rootfs` under `name`.
    pub fn insert(&self, name: &str, rootfs: PathBuf, config: ImageConfig) {
        self.images.write().unwrap().insert(
            name.to_owned(),
            ResolvedImage {
                layers: vec![rootfs],
                config,
            },
        );
    }
}

impl ImageSource for DirImages {
    fn resolve(&self, address: &str) -> Result<Option<ResolvedImage>> {
        Ok(self.images.read().unwrap().get(address).cloned())
    }
}

impl ImageSource for hush_image::ImageStore {
    fn resolve(&self, address: &str) -> Result<Option<ResolvedImage>> {
        let failed = |e: hush_image::ImageError| EngineError::Image {
            image: address.to_owned(),
            message: e.to_string(),
        };
        let Some(image) = hush_image::ImageStore::resolve(self, address).map_err(failed)? else {
            return Ok(None);
        };
        let layers = self.rootfs_layers(&image).map_err(failed)?;
        let non_empty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(Some(ResolvedImage {
            layers,
            config: ImageConfig {
                env: image.env().to_vec(),
                workdir: non_empty(image.working_dir()),
                user: non_empty(image.user()),
            },
        }))
    }
}
