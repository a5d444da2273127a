//! hush's content-addressed local image store.
//!
//! Images live in an [OCI image layout](https://github.com/opencontainers/image-spec/blob/main/image-layout.md)
//! (`oci-layout`, `index.json`, `blobs/sha256/...`) at `<hush home>/images`; tags are the
//! `org.opencontainers.image.ref.name` annotations of `index.json` entries, in Docker's short
//! form (`busybox:latest`). Layers are unpacked once into `<hush home>/layers/<diff_id>/`,
//! with OCI whiteouts converted to overlayfs whiteouts, ready to be stacked as `lowerdir`s.
//!
//! ```no_run
//! # fn main() -> Result<(), hush_image::ImageError> {
//! use hush_image::ImageStore;
//! let store = ImageStore::open("/var/lib/hush/images".as_ref())?;
//! store.import("rootfs.tar.gz".as_ref(), Some("busybox"))?;
//! let image = store.resolve("busybox")?.expect("just imported");
//! let lower = store.rootfs_layers(&image)?; // lowest first
//! # let _ = lower; Ok(()) }
//! ```

mod error;
mod fsutil;
mod import;
mod layer;
mod reference;
mod store;
#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod test_fixtures;

pub use error::ImageError;
pub use oci_spec::image::{Descriptor, Digest, ImageConfiguration, ImageManifest, MediaType};
pub use reference::{Reference, DEFAULT_REGISTRY};
pub use store::{Blob, Image, ImageRef, ImageStore, ImageSummary, Ingest, SCRATCH};
