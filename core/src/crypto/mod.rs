//! Cryptographic building blocks: DSA keys as OTR uses them, hashes, randomness.

pub mod dsa;
