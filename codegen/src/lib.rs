//! `hush-codegen`: turns the API description (`hush-api.json`, read through `hush-api`'s IR)
//! into SDK sources.
//!
//! The pipeline is language-neutral up to the last step: [`ir`] lowers the description into
//! objects, methods and parameters with resolved kinds (chain, value, eager, secret-making),
//! [`naming`] spells names for each language with its keyword escaping, and each module of
//! [`backends`] renders askama templates from `templates/<language>/`.

pub mod backends;
pub mod ir;
pub mod naming;

use std::path::{Path, PathBuf};

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The description has a shape the generator cannot express.
    #[error("cannot generate {at}: {reason}")]
    Unsupported { at: String, reason: String },
    /// A template failed to render.
    #[error("template error: {0}")]
    Template(#[from] askama::Error),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One generated file, relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// Full contents.
    pub contents: String,
}

/// Every generated file of every backend, from the shipped description.
pub fn generate_all() -> Result<Vec<GeneratedFile>, CodegenError> {
    let ir = ir::Ir::lower(hush_api::Api::get())?;
    let mut files = backends::python::generate(&ir)?;
    files.extend(backends::typescript::generate(&ir)?);
    Ok(files)
}

/// Writes `files` under `root`; returns the paths whose contents changed.
pub fn write(root: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>, CodegenError> {
    let mut changed = Vec::new();
    for file in files {
        let path = root.join(&file.path);
        let io = |source| CodegenError::Io {
            path: path.clone(),
            source,
        };
        if std::fs::read_to_string(&path).ok().as_deref() == Some(file.contents.as_str()) {
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(&path, &file.contents).map_err(io)?;
        changed.push(file.path.clone());
    }
    Ok(changed)
}

/// The files under `root` that differ from a fresh generation.
pub fn stale(root: &Path, files: &[GeneratedFile]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(root.join(&f.path)).ok().as_deref() != Some(f.contents.as_str())
        })
        .map(|f| f.path.clone())
        .collect()
}
