//! Cryptographic building blocks: DSA keys as OTR uses them, Diffie-Hellman,
//! key derivation, symmetric ciphers and MACs, hashes, randomness.

pub mod dh;
pub mod dsa;
pub mod kdf;
pub mod symmetric;

use sha1::Digest;

/// SHA-1 of `data`: OTR fingerprints and v2/v3 MAC keys use it.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    sha1::Sha1::digest(data).into()
}
