//! OTR v2/v3 key derivation from a Diffie-Hellman shared secret.
//!
//! Both derivations hash a one-byte label followed by "secbytes", the shared
//! secret s written as a minimal OTR MPI; two peers that agree on s therefore
//! agree on every key, and each label gives an independent key.
//!
//! * The AKE ([`AkeKeys`]) uses SHA-256: the session id, the AES keys that
//!   hide each side's signature, and the HMAC keys that authenticate them.
//! * Data messages ([`SessionKeys`]) use SHA-1 for the per-direction AES and
//!   MAC keys, and SHA-256 (label 0xff) for the extra symmetric key.

use std::fmt;

use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::dh::{mpi, DhKeyPair};
use crate::error::Result;

/// SHA-256(label || secbytes).
fn h2(label: u8, secbytes: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut hash = Sha256::new();
    hash.update([label]);
    hash.update(secbytes);
    Zeroizing::new(hash.finalize().into())
}

/// SHA-1(label || secbytes).
fn h1(label: u8, secbytes: &[u8]) -> Zeroizing<[u8; 20]> {
    let mut hash = Sha1::new();
    hash.update([label]);
    hash.update(secbytes);
    Zeroizing::new(hash.finalize().into())
}

/// The shared secret as an OTR MPI, in a buffer that wipes itself.
fn secbytes(secret: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(mpi(secret))
}

/// The keys one AKE derives from its shared secret; wiped when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AkeKeys {
    /// Secure session id, which users may compare out of band to rule out a
    /// man in the middle.
    pub ssid: [u8; 8],
    /// AES key for the Reveal Signature message's encrypted signature.
    pub c: [u8; 16],
    /// AES key for the Signature message's encrypted signature.
    pub c_prime: [u8; 16],
    /// HMAC-SHA256 key over the Reveal Signature message's signed data.
    pub m1: [u8; 32],
    /// HMAC-SHA256 key over the Reveal Signature message's ciphertext.
    pub m2: [u8; 32],
    /// HMAC-SHA256 key over the Signature message's signed data.
    pub m1_prime: [u8; 32],
    /// HMAC-SHA256 key over the Signature message's ciphertext.
    pub m2_prime: [u8; 32],
}

impl fmt::Debug for AkeKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AkeKeys").finish_non_exhaustive()
    }
}

impl AkeKeys {
    /// Derives the AKE keys from the shared secret s (big-endian; leading
    /// zeros are ignored, since the spec hashes s as a minimal MPI).
    pub fn derive(secret: &[u8]) -> Self {
        let sec = secbytes(secret);
        let mut keys = AkeKeys {
            ssid: [0; 8],
            c: [0; 16],
            c_prime: [0; 16],
            m1: *h2(0x02, &sec),
            m2: *h2(0x03, &sec),
            m1_prime: *h2(0x04, &sec),
            m2_prime: *h2(0x05, &sec),
        };
        keys.ssid.copy_from_slice(&h2(0x00, &sec)[..8]);
        let both = h2(0x01, &sec);
        keys.c.copy_from_slice(&both[..16]);
        keys.c_prime.copy_from_slice(&both[16..]);
        keys
    }

    /// Runs the Diffie-Hellman step and derives the keys, refusing a peer
    /// value outside 2..=p-2 (libotr's `GPG_ERR_INV_VALUE`), as
    /// `otrl_dh_compute_v2_auth_keys` does.
    pub fn compute(ours: &DhKeyPair, their_public: &[u8]) -> Result<Self> {
        let secret = ours.shared_secret(their_public)?;
        Ok(Self::derive(&secret))
    }
}

/// The keys protecting data messages between one of our DH key pairs and one
/// of the peer's public values; wiped when dropped.
///
/// The two ends derive mirror images: our sending keys are the peer's
/// receiving keys. Which end sends with label 0x01 is decided by comparing
/// the public values, so no extra negotiation is needed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionKeys {
    /// AES-128 key for messages we send.
    pub send_aes: [u8; 16],
    /// AES-128 key for messages we receive.
    pub recv_aes: [u8; 16],
    /// HMAC-SHA1 key for messages we send (SHA-1 of `send_aes`).
    pub send_mac: [u8; 20],
    /// HMAC-SHA1 key for messages we receive (SHA-1 of `recv_aes`); revealed
    /// to the world once the keys are retired, for deniability.
    pub recv_mac: [u8; 20],
    /// OTR v3's extra symmetric key, for applications (TLV type 8).
    pub extra_key: [u8; 32],
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKeys").finish_non_exhaustive()
    }
}

/// Whether `ours` is numerically greater than `theirs` (both big-endian,
/// leading zeros ignored): the "high" end of a data-message key pairing.
fn is_high_end(ours: &[u8], theirs: &[u8]) -> bool {
    fn trim(b: &[u8]) -> &[u8] {
        let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
        &b[start..]
    }
    let (ours, theirs) = (trim(ours), trim(theirs));
    ours.len()
        .cmp(&theirs.len())
        .then_with(|| ours.cmp(theirs))
        .is_gt()
}

impl SessionKeys {
    /// Derives data-message keys from the two public values (big-endian,
    /// leading zeros ignored) and the shared secret s of the pairing.
    ///
    /// If our public value is the larger, we send with h1(0x01) and receive
    /// with h1(0x02); otherwise (also if they are equal) the reverse.
    pub fn derive(our_public: &[u8], their_public: &[u8], secret: &[u8]) -> Self {
        let sec = secbytes(secret);
        let (send_byte, recv_byte) = if is_high_end(our_public, their_public) {
            (0x01, 0x02)
        } else {
            (0x02, 0x01)
        };
        let mut keys = SessionKeys {
            send_aes: [0; 16],
            recv_aes: [0; 16],
            send_mac: [0; 20],
            recv_mac: [0; 20],
            extra_key: *h2(0xff, &sec),
        };
        keys.send_aes.copy_from_slice(&h1(send_byte, &sec)[..16]);
        keys.recv_aes.copy_from_slice(&h1(recv_byte, &sec)[..16]);
        keys.send_mac = Sha1::digest(keys.send_aes).into();
        keys.recv_mac = Sha1::digest(keys.recv_aes).into();
        keys
    }

    /// Runs the Diffie-Hellman step and derives the keys.
    ///
    /// Unlike libotr 4.1.1's `otrl_dh_session`, which accepts any y, this
    /// refuses a peer value outside 2..=p-2 (`GPG_ERR_INV_VALUE`), as the
    /// OTR spec requires.
    pub fn compute(ours: &DhKeyPair, their_public: &[u8]) -> Result<Self> {
        let secret = ours.shared_secret(their_public)?;
        Ok(Self::derive(&ours.public_bytes(), their_public, &secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::dh::tests::{tohex, unhex, Pair, PAIR1, PAIR2};
    use crate::crypto::symmetric::{aes128_ctr, hmac_sha1, hmac_sha256};

    /// The 40-byte buffer the libotr oracle encrypted and MACed.
    const DATA: &[u8; 40] = b"The quick brown fox jumps over the lazy\0";

    /// Counter the oracle set on libotr's session ciphers.
    const CTR: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

    /// What libotr 4.1.1 produced for A's side (`otrl_dh_session(A, B.pub)`
    /// and `otrl_dh_compute_v2_auth_keys(A, B.pub)`); B's side was checked to
    /// be the exact mirror. Cipher outputs are DATA encrypted with libotr's
    /// cipher handles, MACs are DATA MACed with its HMAC handles.
    struct Expected {
        pair: &'static Pair,
        send_mac: &'static str,
        recv_mac: &'static str,
        extra: &'static str,
        send_ct: &'static str,
        recv_ct: &'static str,
        send_hmac: &'static str,
        recv_hmac: &'static str,
        ssid: &'static str,
        /// DATA under c and c' with an all-zero counter.
        c_ct: &'static str,
        cp_ct: &'static str,
        /// HMAC-SHA256 of DATA under m1, m2, m1', m2'.
        m_hmac: [&'static str; 4],
    }

    const VECTORS: [Expected; 2] = [
        Expected {
            pair: &PAIR1,
            send_mac: "0b1b302799af80b6ebf92dfe897a8d5a623d885e",
            recv_mac: "7825ec8766cb188514ebe7bfa5615957fea38fe4",
            extra: "b84e798a7e327c3681cfc0f10ea50600acfea39958d348cc0c4c9e2ecde2315a",
            send_ct:
                "a7794e8f310e24de29890f7ced71db5391913980592dbe4c50fbe3c39ab9ca841d0d29be5de6dd32",
            recv_ct:
                "ff79a171665ce9cb4451617ad22ee827133c407150fb40d70218d05193bc6aaab07140d5446ed6de",
            send_hmac: "ff8bac1b16a6379882cb070116a4b38069e898d3",
            recv_hmac: "24b8b08da5055be456b139f1a35b29897af68b59",
            ssid: "639d1e0286a685d1",
            c_ct:
                "2920c28d94993b0b0bb029e0d07383ffcef7210b50174516b8da8704a75916bac1ab8de45210ae07",
            cp_ct:
                "ed4e28e59e64ea98535a5629c180e067f68200987470636b461b045f7bd1140c3d30ca97a193b9c3",
            m_hmac: [
                "aa68698205f33f86b9ad13bca6efb34724e16bb3138607fb2c21bbd2fd8553bb",
                "0340be39a28ab8f15eafac787cb44936294b12385d60686bc04d2518609b71db",
                "2f51d58196a0ad992a6ec93f89c68e86c5e254bc8694dd8c72162e2cccebf271",
                "ef558de5277a4bb1bb88ebf86d4cad8aeb58a1a7900cd1e9942d0e35b75cf3cb",
            ],
        },
        Expected {
            pair: &PAIR2,
            send_mac: "bf4314184b7948ebb24163f63b0219878ce126ff",
            recv_mac: "3ce6a68bdafb7f41546aa1d2b1604c63f908335d",
            extra: "a4ff78aa19177bf880e72618b042c5938ffaef60a5f829ed47bd0edc0d09ccee",
            send_ct:
                "1e26bb1310b2330137a8d72f94b84a00976377a8d49dcc9e2015dd4bec4ee9b7bd54dc962a303fca",
            recv_ct:
                "40dbbf1f6f6063a80b7fd2f9ed19289c03edc40fb30089e07a89a49b4a9fba53b4e42160c92ed1d7",
            send_hmac: "cdeddc33a34e45c0562d0f28b145d5eea51678ab",
            recv_hmac: "c3426d28565611fe9e5e6af7fc2e799781fbb910",
            ssid: "f79010b018eefbc4",
            c_ct:
                "b1e6edddfae3b4b2edda8d4a61e44ab2be6d4a0ba239a6eddbc200b7647f325b82127b48c2f92531",
            cp_ct:
                "2abfa97fb7aa415cc9ce49bdb8b46a1e59c21b3eb3a29cc3d907355174c89eccbbd3bb1d5e23af08",
            m_hmac: [
                "b02c32284e2416c7e1f5e7ce08421637977062c17d6dd837f7aa0fa82b17b221",
                "063c20cc99479fd67b4432e83d04b90e2d41344c94183f3ff44df5f89e136ff1",
                "e2119f75e433d5b922998aa72d7e2ab67ac554874d2e9645dd989c0e56ca1243",
                "98dabcd75c45b0384b5c1e53099204f06c7a83eb92ddae0e6eb8f71b045687d0",
            ],
        },
    ];

    fn encrypt(key: &[u8; 16], ctr: &[u8; 8]) -> String {
        let mut buf = *DATA;
        aes128_ctr(key, ctr, &mut buf);
        tohex(&buf)
    }

    fn pairs(pair: &Pair) -> (DhKeyPair, DhKeyPair) {
        (
            DhKeyPair::from_private(&unhex(pair.a_priv)).unwrap(),
            DhKeyPair::from_private(&unhex(pair.b_priv)).unwrap(),
        )
    }

    #[test]
    fn session_keys_match_libotr() {
        for v in &VECTORS {
            let (a, b) = pairs(v.pair);
            let keys = SessionKeys::compute(&a, &b.public_bytes()).unwrap();
            assert_eq!(tohex(&keys.send_mac), v.send_mac);
            assert_eq!(tohex(&keys.recv_mac), v.recv_mac);
            assert_eq!(tohex(&keys.extra_key), v.extra);
            assert_eq!(encrypt(&keys.send_aes, &CTR), v.send_ct);
            assert_eq!(encrypt(&keys.recv_aes, &CTR), v.recv_ct);
            assert_eq!(tohex(&hmac_sha1(&keys.send_mac, &[DATA])), v.send_hmac);
            assert_eq!(tohex(&hmac_sha1(&keys.recv_mac, &[DATA])), v.recv_hmac);
            let derived =
                SessionKeys::derive(&a.public_bytes(), &b.public_bytes(), &unhex(v.pair.s));
            assert_eq!(derived.send_aes, keys.send_aes);
            assert_eq!(derived.recv_aes, keys.recv_aes);
        }
    }

    /// libotr gave B exactly A's keys with the directions swapped.
    #[test]
    fn session_keys_mirror() {
        for v in &VECTORS {
            let (a, b) = pairs(v.pair);
            let ka = SessionKeys::compute(&a, &b.public_bytes()).unwrap();
            let kb = SessionKeys::compute(&b, &a.public_bytes()).unwrap();
            assert_eq!(ka.send_aes, kb.recv_aes);
            assert_eq!(ka.recv_aes, kb.send_aes);
            assert_eq!(ka.send_mac, kb.recv_mac);
            assert_eq!(ka.recv_mac, kb.send_mac);
            assert_eq!(ka.extra_key, kb.extra_key);
            assert_eq!(tohex(&kb.send_mac), v.recv_mac);
            assert_eq!(encrypt(&kb.send_aes, &CTR), v.recv_ct);
        }
    }

    #[test]
    fn session_key_formulas() {
        let s = unhex(PAIR1.s);
        let sec = mpi(&s);
        assert_eq!(sec.len(), 4 + 191);
        // In PAIR1, B's public value is the larger: A is the low end.
        let keys = SessionKeys::derive(&unhex(PAIR1.a_pub), &unhex(PAIR1.b_pub), &s);
        let h = |b: u8| Sha1::digest([&[b][..], &sec].concat());
        assert_eq!(keys.send_aes, h(0x02)[..16]);
        assert_eq!(keys.recv_aes, h(0x01)[..16]);
        assert_eq!(keys.send_mac, Sha1::digest(keys.send_aes)[..]);
        let extra = Sha256::digest([&[0xff][..], &sec].concat());
        assert_eq!(keys.extra_key, extra[..]);
        // Leading zeros change neither the order nor the secret's MPI.
        let padded = SessionKeys::derive(
            &[vec![0u8; 3], unhex(PAIR1.a_pub)].concat(),
            &unhex(PAIR1.b_pub),
            &[vec![0u8; 2], s.clone()].concat(),
        );
        assert_eq!(padded.send_aes, keys.send_aes);
        // A shorter number is smaller whatever its leading byte.
        let big_short = SessionKeys::derive(&[0xff; 10], &[0x01; 11], &s);
        assert_eq!(big_short.send_aes, h(0x02)[..16]);
        let high = SessionKeys::derive(&[0x01; 11], &[0xff; 10], &s);
        assert_eq!(high.send_aes, h(0x01)[..16]);
        // Equal values: both ends count as low (libotr's strict comparison).
        let equal = SessionKeys::derive(&[5], &[5], &s);
        assert_eq!(equal.send_aes, h(0x02)[..16]);
    }

    #[test]
    fn ake_keys_match_libotr() {
        for v in &VECTORS {
            let (a, b) = pairs(v.pair);
            let ka = AkeKeys::compute(&a, &b.public_bytes()).unwrap();
            let kb = AkeKeys::compute(&b, &a.public_bytes()).unwrap();
            for keys in [&ka, &kb] {
                assert_eq!(tohex(&keys.ssid), v.ssid);
                assert_eq!(encrypt(&keys.c, &[0; 8]), v.c_ct);
                assert_eq!(encrypt(&keys.c_prime, &[0; 8]), v.cp_ct);
                let macs = [&keys.m1, &keys.m2, &keys.m1_prime, &keys.m2_prime];
                for (key, expected) in macs.into_iter().zip(v.m_hmac) {
                    assert_eq!(tohex(&hmac_sha256(key, &[DATA])), expected);
                }
            }
        }
    }

    #[test]
    fn ake_key_formulas() {
        let s = unhex(PAIR2.s);
        let keys = AkeKeys::derive(&s);
        let sec = mpi(&s);
        assert_eq!(sec[..4], [0, 0, 0, 192]);
        let h = |b: u8| Sha256::digest([&[b][..], &sec].concat());
        assert_eq!(keys.ssid, h(0)[..8]);
        assert_eq!(keys.c, h(1)[..16]);
        assert_eq!(keys.c_prime, h(1)[16..]);
        assert_eq!(keys.m1, h(2)[..]);
        assert_eq!(keys.m2, h(3)[..]);
        assert_eq!(keys.m1_prime, h(4)[..]);
        assert_eq!(keys.m2_prime, h(5)[..]);
        assert_eq!(format!("{keys:?}"), "AkeKeys { .. }");
    }

    #[test]
    fn bad_public_values_are_refused() {
        let (a, _) = pairs(&PAIR1);
        assert!(AkeKeys::compute(&a, &[1]).is_err());
        assert!(SessionKeys::compute(&a, &[]).is_err());
    }
}
