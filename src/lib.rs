//! libotr-rs: Off-the-Record Messaging with the C ABI of libotr 4.1.1.
//!
//! Each module carries the declarations of the libotr header of the same name
//! (`context.rs` for `context.h`, ...), in that header's order. The protocol
//! engine itself lives in the safe crate `otr-core`; this crate owns the
//! C-visible structures, checks every pointer it is given, and converts
//! results to libc-allocated memory that C may free.
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]

pub mod auth;
pub mod b64;
pub mod context;
pub mod context_priv;
pub mod dh;
pub mod gcry;
pub mod instag;
pub mod libgcrypt;
mod list;
pub mod mem;
pub mod message;
pub mod privkey;
pub mod privkey_t;
pub mod proto;
pub mod sm;
pub mod tlv;
pub mod userstate;
pub mod version;

mod ffi;
