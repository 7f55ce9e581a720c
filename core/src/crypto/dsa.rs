//! DSA as OTR uses it (1024-bit p, 160-bit q).
//!
//! API placeholder: the implementation lands with the crypto work.

use crate::error::Result;

/// A DSA public key (p, q, g, y).
pub struct DsaPublicKey {
    _private: (),
}

/// A DSA private key (p, q, g, y, x); x is wiped when dropped.
pub struct DsaPrivateKey {
    _private: (),
}

impl DsaPrivateKey {
    /// Builds a key from big-endian magnitudes (leading zero bytes allowed).
    pub fn from_components(_p: &[u8], _q: &[u8], _g: &[u8], _y: &[u8], _x: &[u8]) -> Result<Self> {
        todo!()
    }
}
