//! The symmetric primitives of OTR v2/v3: AES-128 in counter mode, SHA-256,
//! HMAC-SHA1/SHA256 (and the 160-bit truncation of the latter), and
//! constant-time comparison for checking MACs.
//!
//! The hash and MAC helpers take their input as a list of parts because OTR
//! always authenticates concatenations (a type byte and an MPI, a header and
//! a ciphertext, ...); feeding the parts one by one avoids copying secrets
//! into temporary buffers.

use aes::Aes128;
use ctr::cipher::{InnerIvInit, KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// AES-128 keystream over a 128-bit big-endian counter, as libgcrypt's CTR
/// mode increments it.
type Aes128Ctr = ctr::Ctr128BE<Aes128>;

/// Encrypts or decrypts `data` in place with AES-128-CTR as OTR uses it.
///
/// The initial counter block is `counter_top8` followed by eight zero bytes:
/// in data messages the top half is the message's counter, which the sender
/// must never reuse with the same key; the AKE encrypts with an all-zero
/// block. Counter mode is its own inverse, so this also decrypts.
pub fn aes128_ctr(key: &[u8; 16], counter_top8: &[u8; 8], data: &mut [u8]) {
    let mut block = [0u8; 16];
    block[..8].copy_from_slice(counter_top8);
    aes128_ctr_block(key, &block, data);
}

/// AES-128-CTR from an arbitrary initial counter block.
fn aes128_ctr_block(key: &[u8; 16], block: &[u8; 16], data: &mut [u8]) {
    let mut cipher = Aes128Ctr::new(key.into(), block.into());
    cipher.apply_keystream(data);
}

/// An AES-128 key with its round keys expanded once: a data session
/// encrypts every message with the same key. The round keys are wiped when
/// dropped (the `aes` crate's `zeroize` feature).
#[derive(Clone)]
pub struct Aes128Key(Aes128);

impl Aes128Key {
    /// Expands `key`.
    pub fn new(key: &[u8; 16]) -> Self {
        Aes128Key(<Aes128 as KeyInit>::new(key.into()))
    }

    /// [`aes128_ctr`] with this key.
    pub fn ctr(&self, counter_top8: &[u8; 8], data: &mut [u8]) {
        let mut block = [0u8; 16];
        block[..8].copy_from_slice(counter_top8);
        let core = ctr::CtrCore::<Aes128, ctr::flavors::Ctr128BE>::inner_iv_init(
            self.0.clone(),
            &block.into(),
        );
        let mut cipher = Aes128Ctr::from_core(core);
        cipher.apply_keystream(data);
    }
}

/// HMAC-SHA256 over the concatenation of `parts`: the AKE's MACs (keys m1,
/// m2, m1', m2') and the basis of the 160-bit variant.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The first 20 bytes of HMAC-SHA256 over `parts`: OTR's "MAC'" that guards
/// the encrypted signature in the Reveal Signature and Signature messages.
pub fn hmac_sha256_160(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    let full = hmac_sha256(key, parts);
    let mut out = [0u8; 20];
    out.copy_from_slice(&full[..20]);
    out
}

/// An HMAC-SHA1 key with its inner and outer pads already hashed: a data
/// session MACs every message with the same key, and this saves two SHA-1
/// blocks per message. The state is wiped when dropped.
#[derive(Clone)]
pub struct HmacSha1Key(Hmac<Sha1>);

impl HmacSha1Key {
    /// Prepares `key`.
    pub fn new(key: &[u8]) -> Self {
        HmacSha1Key(<Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("any key length"))
    }

    /// HMAC-SHA1 of the concatenated `parts`.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 20] {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

/// HMAC-SHA1 over `parts`: the authenticator of OTR v2/v3 data messages,
/// keyed with a session's 20-byte MAC key.
pub fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// SHA-256 over the concatenation of `parts`: the AKE's commitment to g^x
/// and OTR's key derivations.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part);
    }
    hash.finalize().into()
}

/// Compares two byte strings without revealing, through timing, where they
/// first differ; use it for every received MAC or hash commitment.
///
/// Lengths are treated as public: strings of different length are unequal.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::dh::tests::{tohex, unhex};

    /// NIST SP 800-38A, F.5.1 (CTR-AES128.Encrypt), all four blocks.
    #[test]
    fn aes_ctr_nist_vector() {
        let key: [u8; 16] = unhex("2b7e151628aed2a6abf7158809cf4f3c")
            .try_into()
            .unwrap();
        let block: [u8; 16] = unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
            .try_into()
            .unwrap();
        let mut data = unhex(concat!(
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51",
            "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
        ));
        aes128_ctr_block(&key, &block, &mut data);
        assert_eq!(
            tohex(&data),
            concat!(
                "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff",
                "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
            )
        );
        // The carry crosses from the low 64 bits into the top half, as with
        // libgcrypt's 128-bit counter.
        let mut zeros = [0u8; 32];
        let near_wrap: [u8; 16] = unhex("0000000000000001ffffffffffffffff")
            .try_into()
            .unwrap();
        aes128_ctr_block(&key, &near_wrap, &mut zeros);
        let mut second = [0u8; 16];
        aes128_ctr(&key, &[0, 0, 0, 0, 0, 0, 0, 2], &mut second);
        assert_eq!(zeros[16..], second);
    }

    #[test]
    fn aes_ctr_round_trip_and_counter() {
        let key = [7u8; 16];
        let plain = b"attack at dawn, or maybe a little later than that".to_vec();
        let mut buf = plain.clone();
        aes128_ctr(&key, &[0, 0, 0, 0, 0, 0, 0, 1], &mut buf);
        assert_ne!(buf, plain);
        let mut other = plain.clone();
        aes128_ctr(&key, &[0, 0, 0, 0, 0, 0, 0, 2], &mut other);
        assert_ne!(buf, other);
        aes128_ctr(&key, &[0, 0, 0, 0, 0, 0, 0, 1], &mut buf);
        assert_eq!(buf, plain);
        let mut empty = [];
        aes128_ctr(&key, &[0; 8], &mut empty);
    }

    /// RFC 4231 test cases 1 and 2 (case 2 also split into parts).
    #[test]
    fn hmac_sha256_rfc4231() {
        let tag = hmac_sha256(&[0x0b; 20], &[b"Hi There"]);
        assert_eq!(
            tohex(&tag),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(
            tohex(&hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"])),
            expected
        );
        assert_eq!(
            tohex(&hmac_sha256(
                b"Jefe",
                &[b"what do ya ", b"", b"want for nothing?"]
            )),
            expected
        );
        assert_eq!(
            tohex(&hmac_sha256_160(
                b"Jefe",
                &[b"what do ya want for nothing?"]
            )),
            expected[..40]
        );
    }

    /// RFC 2202 test cases 1 and 2.
    #[test]
    fn hmac_sha1_rfc2202() {
        assert_eq!(
            tohex(&hmac_sha1(&[0x0b; 20], &[b"Hi There"])),
            "b617318655057264e28bc0b6fb378c8ef146be00"
        );
        assert_eq!(
            tohex(&hmac_sha1(b"Jefe", &[b"what do ya want ", b"for nothing?"])),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn sha256_known_answers() {
        assert_eq!(
            tohex(&sha256(&[b"abc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            tohex(&sha256(&[b"a", b"", b"bc"])),
            tohex(&sha256(&[b"abc"]))
        );
        assert_eq!(
            tohex(&sha256(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(!ct_eq(b"", b"a"));
    }
}
