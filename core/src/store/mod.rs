//! The on-disk formats of libotr 4.1.1: private keys (libgcrypt S-expressions),
//! fingerprints and instance tags.

pub mod fingerprints;
pub mod instags;
pub mod privkeys;
pub mod sexp;
