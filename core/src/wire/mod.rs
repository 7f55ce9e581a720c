//! The OTR wire format: base64 armour, message classification, whitespace
//! tags and query messages, and the binary v2/v3 protocol messages.
//!
//! Everything a peer can send arrives here as bytes, so every function takes
//! `&[u8]`; the text functions read it as libotr reads a C string (the first
//! NUL, if any, ends the message). Nothing in this module panics on any
//! input.
//!
//! The submodules are re-exported here, so `wire::base64_decode`,
//! `wire::message_type` and `wire::DataMessage` all work:
//!
//! * [`b64`]: `otrl_base64_*` ([`base64_encode`], [`base64_decode`],
//!   [`otr_encode`], [`otr_decode`], ...).
//! * [`classify`]: [`message_type`], [`message_version`],
//!   [`instance_tags`], [`data_read_flags`], [`query_bestversion`],
//!   [`whitespace_bestversion`], [`default_query_msg`], [`whitespace_tag`],
//!   [`strip_whitespace_tag`].
//! * [`messages`]: [`Header`], [`DhCommit`], [`DhKey`],
//!   [`RevealSignature`], [`Signature`], [`DataMessage`], [`Message`].

pub mod b64;
pub mod classify;
pub mod messages;

pub use b64::*;
pub use classify::*;
pub use messages::*;
