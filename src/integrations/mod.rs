//! Thin adapters to frameworks, each behind its feature, so that a framework release never
//! blocks the core.

#[cfg(feature = "axum")]
pub mod axum;

#[cfg(feature = "tonic")]
pub mod tonic;
