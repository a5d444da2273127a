//! The engine's image source with pulling: the local store first, then the registry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hush_engine::{EngineError, ImageSource, ResolvedImage};
use hush_image::ImageStore;

use crate::Puller;

/// An [`ImageSource`] for `from(address)`: images in the local store, and images pulled into
/// it with a [`Puller`] when missing. Concurrent resolutions of one address pull once.
#[derive(Debug)]
pub struct PullingImages {
    store: ImageStore,
    puller: Puller,
    pulls: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl PullingImages {
    /// Resolves from `store`, pulling missing images with `puller`.
    pub fn new(store: ImageStore, puller: Puller) -> Self {
        Self {
            store,
            puller,
            pulls: Mutex::new(HashMap::new()),
        }
    }

    /// The puller, e.g. to add credentials with [`Puller::set_registry_auth`].
    pub fn puller(&self) -> &Puller {
        &self.puller
    }

    /// The local store.
    pub fn store(&self) -> &ImageStore {
        &self.store
    }
}

impl ImageSource for PullingImages {
    fn resolve(&self, address: &str) -> hush_engine::Result<Option<ResolvedImage>> {
        if let Some(found) = ImageSource::resolve(&self.store, address)? {
            return Ok(Some(found));
        }
        if address.starts_with("sha256:") {
            return Ok(None); // a digest alone names no repository to pull from
        }
        let gate = self
            .pulls
            .lock()
            .unwrap()
            .entry(address.to_string())
            .or_default()
            .clone();
        let _pulling = gate.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Another caller may have pulled it while this one waited.
        if let Some(found) = ImageSource::resolve(&self.store, address)? {
            return Ok(Some(found));
        }
        self.puller
            .pull(&self.store, address, None)
            .map_err(|e| EngineError::Image {
                image: address.to_string(),
                message: format!("not in the local store, and pulling it failed: {e}"),
            })?;
        ImageSource::resolve(&self.store, address)
    }
}
