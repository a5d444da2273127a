//! One module per SDK language, each rendering the [`crate::ir::Ir`] with its templates.

pub mod python;
pub mod typescript;
