//! The OTR engine of libotr-rs.
//!
//! This crate knows nothing of C: it holds the protocol logic, the cryptography
//! and the file formats of libotr 4.1.1 as safe Rust. The C-ABI crate at the
//! workspace root owns every C-visible structure and calls in here.
#![forbid(unsafe_code)]

pub mod ake;
pub mod crypto;
pub mod data;
pub mod error;
pub mod fragment;
pub mod session;
pub mod smp;
pub mod store;
pub mod tlv;
pub mod wire;
