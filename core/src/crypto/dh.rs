//! Diffie-Hellman in the 1536-bit MODP group, as OTR v2/v3 uses it.
//!
//! Every OTR key exchange (the AKE and each data-message key rotation) is a
//! Diffie-Hellman exchange in RFC 3526 group 5 with generator 2; libotr calls
//! it `DH1536_GROUP_ID`. A private key is 40 random bytes (a 320-bit exponent,
//! the minimum the OTR spec demands), so exponentiations only scan 320 bits.
//!
//! Both exponentiations are constant-time in the secret exponent:
//!
//! * g^x uses a fixed-base comb: for every 5-bit digit position i of x the
//!   table holds 2^(j·2^(5i)) for all 32 digits j, so g^x is the product of 64
//!   table entries and needs no squarings. Each entry is picked by reading the
//!   whole row under masks, so memory access does not depend on x. The table
//!   (384 KiB) is built on first use (about 4 ms) and shared by all threads.
//! * y^x for a peer's y uses crypto-bigint's windowed Montgomery
//!   exponentiation bounded to the exponent's 320 bits.

use std::fmt;
use std::sync::OnceLock;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, MontyForm, MontyMultiplier, Odd, Resize, Word};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::Rng;
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{code, OtrError, Result};

/// libotr's number for this group (`DH1536_GROUP_ID`).
pub const GROUP_ID: u32 = 5;

/// The group's generator.
pub const GENERATOR: u8 = 2;

/// Size of the modulus in bits.
pub const MODULUS_BITS: u32 = 1536;

/// Size of the modulus in bytes; no valid public value or secret is longer.
pub const MODULUS_LEN: usize = 192;

/// Length of a freshly generated private key: libotr draws 40 random bytes.
pub const PRIVATE_KEY_LEN: usize = 40;

/// The RFC 3526 1536-bit MODP prime, big-endian:
/// 2^1536 - 2^1472 - 1 + 2^64 · (⌊2^1406 π⌋ + 741804).
pub const MODULUS: [u8; MODULUS_LEN] = decode_hex(concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1",
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245",
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D",
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D",
    "670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF",
));

/// Exponent bits covered by the fixed-base table: a full generated key.
const COMB_BITS: u32 = PRIVATE_KEY_LEN as u32 * 8;

/// Bits of the exponent consumed per table row. Five measured fastest in
/// release builds (six is as fast with 70% more memory; four is 15% slower).
const COMB_WIDTH: u32 = 5;

/// Entries per table row: one for every value of a digit.
const COMB_ROW: usize = 1 << COMB_WIDTH;

/// Number of table rows (digit positions).
const COMB_ROWS: u32 = COMB_BITS.div_ceil(COMB_WIDTH);

/// Decodes a hex string into a fixed-size array at compile time.
const fn decode_hex<const N: usize>(hex: &str) -> [u8; N] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let hex = hex.as_bytes();
    assert!(hex.len() == 2 * N, "wrong hex length");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = (nibble(hex[2 * i]) << 4) | nibble(hex[2 * i + 1]);
        i += 1;
    }
    out
}

fn inv_value() -> OtrError {
    OtrError::libotr(code::INV_VALUE)
}

/// The group's Montgomery context and the bounds on public values.
struct Group {
    params: BoxedMontyParams,
    /// p - 2, the largest public value the spec allows.
    p_minus_2: BoxedUint,
}

fn group() -> &'static Group {
    static GROUP: OnceLock<Group> = OnceLock::new();
    GROUP.get_or_init(|| {
        let p = BoxedUint::from_be_slice(&MODULUS, MODULUS_BITS).expect("1536-bit constant");
        let p_minus_2 = p.wrapping_sub(BoxedUint::from(2u8).resize(MODULUS_BITS));
        let p = Odd::new(p).expect("the prime is odd");
        Group {
            params: BoxedMontyParams::new_vartime(p),
            p_minus_2,
        }
    })
}

/// Fixed-base table for the generator, flat: row i, entry j holds the
/// Montgomery-form limbs of 2^(j·2^(COMB_WIDTH·i)).
struct Comb {
    limbs: Vec<Word>,
    nlimbs: usize,
}

fn comb() -> &'static Comb {
    static COMB: OnceLock<Comb> = OnceLock::new();
    COMB.get_or_init(|| {
        let grp = group();
        let params = &grp.params;
        let nlimbs = BoxedUint::zero_with_precision(MODULUS_BITS)
            .as_words()
            .len();
        let mut limbs = Vec::with_capacity(COMB_ROWS as usize * COMB_ROW * nlimbs);
        let mut mm = <BoxedMontyForm as MontyForm>::Multiplier::from(params);
        // base = 2^(2^(COMB_WIDTH·i)) for the current row i.
        let mut base = BoxedMontyForm::new(BoxedUint::from(GENERATOR).resize(MODULUS_BITS), params);
        for _ in 0..COMB_ROWS {
            let mut acc = BoxedMontyForm::one(params);
            for _ in 0..COMB_ROW {
                limbs.extend_from_slice(acc.as_montgomery().as_words());
                mm.mul_assign(&mut acc, &base);
            }
            // After the row, acc = base^COMB_ROW: the next row's base.
            base = acc;
        }
        Comb { limbs, nlimbs }
    })
}

impl Comb {
    /// 2^x for an exponent of at most [`COMB_BITS`] bits, in constant time.
    fn pow(&self, x: &BoxedUint) -> BoxedUint {
        debug_assert!(x.bits_precision() >= COMB_BITS);
        let params = &group().params;
        let words = x.as_words();
        let mut mm = <BoxedMontyForm as MontyForm>::Multiplier::from(params);
        let mut acc = BoxedMontyForm::one(params);
        let mut entry = BoxedMontyForm::one(params);
        let mut picked = Zeroizing::new(vec![0 as Word; self.nlimbs]);
        let row_len = COMB_ROW * self.nlimbs;
        for (i, row) in self.limbs.chunks_exact(row_len).enumerate() {
            let digit = digit(words, i as u32 * COMB_WIDTH);
            picked.fill(0);
            for (j, candidate) in row.chunks_exact(self.nlimbs).enumerate() {
                let mask = Word::conditional_select(&0, &Word::MAX, (j as Word).ct_eq(&digit));
                for (out, limb) in picked.iter_mut().zip(candidate) {
                    *out |= limb & mask;
                }
            }
            entry
                .as_montgomery_mut()
                .as_mut_words()
                .copy_from_slice(&picked);
            mm.mul_assign(&mut acc, &entry);
        }
        entry.zeroize();
        let out = acc.retrieve();
        // Partial products would reveal low digits of the exponent.
        acc.zeroize();
        out
    }
}

/// The [`COMB_WIDTH`]-bit digit of `words` (little-endian limbs) at `bit`.
/// Positions are public, so only the digit's value is secret.
fn digit(words: &[Word], bit: u32) -> Word {
    let index = (bit / Word::BITS) as usize;
    let shift = bit % Word::BITS;
    let mut value = words[index] >> shift;
    if shift + COMB_WIDTH > Word::BITS && index + 1 < words.len() {
        value |= words[index + 1] << (Word::BITS - shift);
    }
    value & ((1 << COMB_WIDTH) - 1)
}

/// 2^x by crypto-bigint's bounded exponentiation; for exponents longer than
/// the table covers, and as the reference the table is measured against.
fn pow_generator_bounded(x: &BoxedUint, bits: u32) -> BoxedUint {
    let g = BoxedMontyForm::new(
        BoxedUint::from(GENERATOR).resize(MODULUS_BITS),
        &group().params,
    );
    g.pow_bounded_exp(x, bits).retrieve()
}

/// Parses a peer's public value, or `None` unless 2 <= y <= p-2.
///
/// Leading zero bytes are allowed: the value is what counts, as with
/// libgcrypt's MPIs.
fn parse_public(bytes: &[u8]) -> Option<BoxedUint> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    if bytes.len() > MODULUS_LEN {
        return None;
    }
    let y = BoxedUint::from_be_slice(bytes, MODULUS_BITS).ok()?;
    let two = BoxedUint::from(2u8).resize(MODULUS_BITS);
    if y.cmp_vartime(&two).is_lt() || y.cmp_vartime(&group().p_minus_2).is_gt() {
        return None;
    }
    Some(y)
}

/// Whether a peer's public value is acceptable to the OTR spec: 2 <= y <= p-2.
///
/// Values outside that range (0, 1, p-1, p and above) would confine the
/// shared secret to a tiny set, so the AKE and data exchange must refuse them.
pub fn is_valid_public(y: &[u8]) -> bool {
    parse_public(y).is_some()
}

/// Encodes a number as an OTR MPI: 4-byte big-endian length, then the
/// magnitude without leading zeros (zero has length 0).
///
/// OTR hashes and MACs MPIs byte for byte, so the minimal form is what both
/// peers must agree on (e.g. the shared secret in key derivation).
pub fn mpi(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let magnitude = &bytes[start..];
    let len = u32::try_from(magnitude.len()).expect("MPI longer than 4 GiB");
    let mut out = Vec::with_capacity(4 + magnitude.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(magnitude);
    out
}

/// A Diffie-Hellman key pair in the OTR group; the private exponent is wiped
/// from memory when the pair is dropped.
#[derive(Clone)]
pub struct DhKeyPair {
    /// The private exponent, at a precision of at least [`COMB_BITS`].
    private: BoxedUint,
    /// Bits of the exponent to scan: 8 × its length in bytes, leading zero
    /// bytes included, so the scan length never depends on the value.
    private_bits: u32,
    /// g^x as a minimal big-endian magnitude.
    public: Vec<u8>,
}

impl Drop for DhKeyPair {
    fn drop(&mut self) {
        self.private.zeroize();
    }
}

impl fmt::Debug for DhKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DhKeyPair")
            .field("public_len", &self.public.len())
            .finish_non_exhaustive()
    }
}

impl DhKeyPair {
    /// Makes a fresh key pair the way `otrl_dh_gen_keypair` does: 40 bytes
    /// from the OS random generator as the exponent, public value 2^x mod p.
    pub fn generate() -> Self {
        let mut rng = UnwrapErr(SysRng);
        let mut bytes = Zeroizing::new([0u8; PRIVATE_KEY_LEN]);
        loop {
            rng.fill_bytes(&mut bytes[..]);
            // An all-zero draw (probability 2^-320) would give the public
            // value 1, which every peer rejects.
            if let Ok(pair) = Self::from_private(&bytes[..]) {
                return pair;
            }
        }
    }

    /// Rebuilds a key pair from a big-endian private exponent, for tests and
    /// for callers that must reproduce a known key (e.g. one held by a C
    /// application in a `DH_keypair`).
    ///
    /// The exponent may be up to 192 bytes; it is scanned over its full
    /// length in bytes, so pass it at a fixed width (40 bytes for keys like
    /// libotr's) to keep timing independent of its value. Zero is refused
    /// with libotr's `GPG_ERR_INV_VALUE`, since its public value 1 is invalid.
    pub fn from_private(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MODULUS_LEN {
            return Err(inv_value());
        }
        let private_bits = u32::try_from(bytes.len() * 8).expect("at most 1536");
        let precision = private_bits.max(COMB_BITS);
        let private = BoxedUint::from_be_slice(bytes, precision).map_err(|_| inv_value())?;
        if bool::from(private.is_zero()) {
            return Err(inv_value());
        }
        let public = Zeroizing::new(if private_bits <= COMB_BITS {
            comb().pow(&private)
        } else {
            pow_generator_bounded(&private, private_bits)
        });
        let public = public.to_be_bytes_trimmed_vartime().into_vec();
        Ok(DhKeyPair {
            private,
            private_bits,
            public,
        })
    }

    /// Our public value g^x as a minimal big-endian magnitude, the form OTR
    /// puts on the wire (inside an MPI) and compares to order the two ends.
    pub fn public_bytes(&self) -> Vec<u8> {
        self.public.clone()
    }

    /// [`DhKeyPair::public_bytes`], borrowed.
    pub fn public(&self) -> &[u8] {
        &self.public
    }

    /// The private exponent, big-endian at the width it was created with
    /// (40 bytes for generated keys), for handing to a C caller's `DH_keypair`.
    pub fn private_bytes(&self) -> Zeroizing<Vec<u8>> {
        let full = Zeroizing::new(self.private.to_be_bytes());
        let width = (self.private_bits / 8) as usize;
        Zeroizing::new(full[full.len() - width..].to_vec())
    }

    /// The shared secret s = y^x with a peer's public value y, as a minimal
    /// big-endian magnitude (what OTR's key derivation wraps in an MPI).
    ///
    /// Refuses, with libotr's `GPG_ERR_INV_VALUE`, any y outside
    /// 2 <= y <= p-2, as the OTR spec requires.
    pub fn shared_secret(&self, their_public: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let y = parse_public(their_public).ok_or_else(inv_value)?;
        let y = BoxedMontyForm::new(y, &group().params);
        let s = Zeroizing::new(y.pow_bounded_exp(&self.private, self.private_bits));
        let s = Zeroizing::new(s.retrieve());
        let full = Zeroizing::new(s.to_be_bytes());
        let start = full.iter().position(|&b| b != 0).unwrap_or(full.len());
        Ok(Zeroizing::new(full[start..].to_vec()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn unhex(s: &str) -> Vec<u8> {
        assert!(s.len() % 2 == 0);
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    pub(crate) fn tohex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Fixed key pairs run through libotr 4.1.1 (Debian libotr5): public
    /// values from `gcry_mpi_powm(2, x, p)`, secrets from libotr's group.
    pub(crate) struct Pair {
        pub a_priv: &'static str,
        pub b_priv: &'static str,
        pub a_pub: &'static str,
        pub b_pub: &'static str,
        pub s: &'static str,
    }

    /// s is 1525 bits: its MPI is 191 bytes, checking the minimal encoding.
    pub(crate) const PAIR1: Pair = Pair {
        a_priv: "5f9e8655070f21fdf18a26082291094e067d1151aa9ff725886b8875463fc1f7f2f62e9c5db7313c",
        b_priv: "64718bcbc5dc26614036fc7e070b851e66bd6c09230035b0536e93df1e3c3bae5540c35d2f65acd6",
        a_pub: concat!(
            "4714db78e93d22cbda7f6df4dc0ebdb934d9de62a68288b512b3f2bffb0527ffb0e4671141e5b5b310fc11d7d54c1f06",
            "7d134a69883a533e1df91ddc3dcce28e0dc28755074d592ea5127c141a4391f44c7c08537bd8682febdb21db46afa466",
            "2a231d59344f1acd4cf30c0ef0cb284d7be1c35e6dedd9547e3a3a95a06ed4c7af78b8fc191539de803497e4d58d2671",
            "3f2d7a28fe77cf22801f32a78ab4adf0423be3fdd1e846671b700e911c96c798a1f8fa4d287735776839eaec0987d18d",
        ),
        b_pub: concat!(
            "477a666f08c1b5f5fe4e24f874074e648126c15fcbe47f99e9092c1a319077e3df1261b62a36386610e0c8716a96cc75",
            "a69a06de682f697a7499ce25a5ae3ad860d838f51d40e7fa20160d6a7d73aa3f98b086f87cafbcdd6069f413b1f6564c",
            "c959eec0ba95a6f63184400ae4e7959b42185bef3381e2e9d862b87d3af67c43f81e162a2442076b9059b77f8976e008",
            "190ff875fda276dbfbf75522d323fec9bc2b9074f8689a558b012268b0d3020c25f1ef785b4bb9fdf4be8a31777d2280",
        ),
        s: concat!(
            "1bf0ceef55ed491f8b2abce24f4c9483ea51cbbfc52cc9556544c96c93d203d9d7d2e04bb22abc24a59f4775439ef6",
            "48094c30d987ade23e432dacdf70989dfabe669c5547ed8ef81906cb8fe51bfc6de12bf1b58218095d39066cdf12ce",
            "e00811c7fb3dca628e2af046f435c7f5fe1a400aa1f5d86b6a5bf08544a8fc7c7dfd3b342fcbc559290e14c3d2d410",
            "4536064a3999b8561607462f4c4e0db6f6d720924c954f56a560213655d98b3df6653c40751e800312987c7666932643",
            "e5ed",
        ),
    };

    /// A full-length (1535-bit) secret, same A key.
    pub(crate) const PAIR2: Pair = Pair {
        a_priv: PAIR1.a_priv,
        b_priv: "97d8b6d9f4c8269bf38d1ce180f0f028c030c4bb76687b818b8d7c9077467a7fca5d40df5269f203",
        a_pub: PAIR1.a_pub,
        b_pub: concat!(
            "ac18d26762d86f7db576d8928e92fe555f7391ec57ef66321d632918fd88bfd89fd82fd2e8f8df7662d43c009fe5a808",
            "1de451c54f1b7a8aa054b9f3f6ce59b8c23cf3f532c4826f67eee90a4414d4ff87012df906c0a0996dc335a50b03eff0",
            "8d7f54b6077302fce2a4b5843f4d147c2a823027c6804aae8317cadfc79bf2b3c96c592bc23d8d9ab29d003353374dc2",
            "42449b82ab2ba0e5cae2770aefb9d45d83eeabd08d6f2b1058a7235adbc3d59a22704261eef45511231b7a9e547f0110",
        ),
        s: concat!(
            "5be7055de819be0a93d898cab6813d4f87e14f72be74fce5e87bff9108fd7b4dd31de7cd2eed2f3aa83249c090e05785",
            "1a3906d7e2af948b1a22a6e36725017c2a7774b0870242ca4dce3601cc96310aec7af71d3bd42a44bcd749e60066cde9",
            "c88918b3339d8e5d0fec3731d71418a0199f01f88e9e45a953f81c5c1523615e98bc28af807340ba5bc48e860caea5b5",
            "d174fe7b239f0a7356db8dd522b942592cd1a316d58fbd4a7325120a47aa082108fcafcede6c9204af07e0decb2bc672",
        ),
    };

    /// Key pairs made by libotr's `otrl_dh_gen_keypair` (private, public).
    const LIBOTR_GENERATED: &[(&str, &str)] = &[
        (
            "bf911defd56cdc34eefd09fa03c53663bee34b8b4631163bca4aa9418f5310e7a68677d830563a33",
            concat!(
                "b8ac338c8527caf8ca65c4cc91462bb6eb315350788e2286bca2cb1788ccceb63d190089fc245970a6f197827576e4f6",
                "2dfebb859ebdd86fdda436ed9d7fb4a7e902d3bda84f2b2c8b1ed9489d0a0265dc7fd87af3fae6f945b4df74e8895a45",
                "bec00316d07f25cd813d5e654e23105cc8aebe0e6b2fd2b715c7ff228aea58682ab5194172a6845caaf393fb709373cc",
                "b189c96efce951c14852db820677fc53e6d91a27e0edaf9c37fae77b58e7e879a63f6e587c1c146b9ab728937a79a37f",
            ),
        ),
        (
            // A 319-bit exponent: libotr does not force the top bit.
            "4544d78339d925d353b4a0c1f838bc2b65844e1b79c9b23bb26b61b3ab851bed3806abfee5cd8189",
            concat!(
                "3f95d927e0db3eb7d03fb357b5d8c19fc9c416ff1f9b1b94492739194fa2c89d52fcaede29dcda71bf05a7de8154c912",
                "311dfd5ff575f8b260e44309136de9d8c4b56dd70941e7cad70d1e3543f846206886933e24618a688b8ff742ba33c3c0",
                "811f8fadcee987a9ca9723594da77feec903b23e7bdc7e548a444cfacd923d1c6096c17be60032c0a764e764e03ece85",
                "0a1c08daa9bd1587a420d61c89252bbb776a4a6f0f5938f93faa8fe1b399bea555ff4d7de20d04a0b0f1e48bb66e3335",
            ),
        ),
    ];

    fn p_minus(k: u8) -> Vec<u8> {
        let mut v = MODULUS.to_vec();
        *v.last_mut().unwrap() -= k;
        v
    }

    #[test]
    fn modulus_is_rfc3526_group5() {
        let p = BoxedUint::from_be_slice(&MODULUS, MODULUS_BITS).unwrap();
        assert_eq!(p.bit_width_vartime(), 1536);
        assert_eq!(MODULUS[..8], [0xff; 8]);
        assert_eq!(MODULUS[184..], [0xff; 8]);
        assert_eq!(MODULUS[8..12], [0xc9, 0x0f, 0xda, 0xa2]);
        assert!(crypto_primes::is_prime(crypto_primes::Flavor::Safe, &p));
    }

    #[test]
    fn public_values_match_libotr() {
        for pair in [&PAIR1, &PAIR2] {
            for (x, y) in [(pair.a_priv, pair.a_pub), (pair.b_priv, pair.b_pub)] {
                let kp = DhKeyPair::from_private(&unhex(x)).unwrap();
                assert_eq!(tohex(&kp.public_bytes()), y);
                assert_eq!(tohex(&kp.private_bytes()), x);
            }
        }
        for (x, y) in LIBOTR_GENERATED {
            let kp = DhKeyPair::from_private(&unhex(x)).unwrap();
            assert_eq!(tohex(&kp.public_bytes()), *y);
        }
    }

    #[test]
    fn shared_secrets_match_libotr() {
        for pair in [&PAIR1, &PAIR2] {
            let a = DhKeyPair::from_private(&unhex(pair.a_priv)).unwrap();
            let b = DhKeyPair::from_private(&unhex(pair.b_priv)).unwrap();
            let ab = a.shared_secret(&b.public_bytes()).unwrap();
            let ba = b.shared_secret(&a.public_bytes()).unwrap();
            assert_eq!(tohex(&ab), pair.s);
            assert_eq!(tohex(&ba), pair.s);
        }
        assert_eq!(PAIR1.s.len(), 2 * 191, "minimal: no leading zero byte");
    }

    #[test]
    fn comb_agrees_with_bounded_pow() {
        let mut exps: Vec<Vec<u8>> = vec![
            vec![0; 40],
            vec![0xff; 40],
            [vec![0; 39], vec![1]].concat(),
            [vec![0x80], vec![0; 39]].concat(),
            [vec![0; 20], vec![0xff; 20]].concat(),
        ];
        exps.extend((0u8..8).map(|k| (0..40u8).map(|i| i.wrapping_mul(37) ^ k).collect()));
        for e in exps {
            let x = BoxedUint::from_be_slice(&e, COMB_BITS).unwrap();
            assert_eq!(
                comb().pow(&x),
                pow_generator_bounded(&x, COMB_BITS),
                "{}",
                tohex(&e)
            );
        }
    }

    #[test]
    fn generated_pairs_agree() {
        let a = DhKeyPair::generate();
        let b = DhKeyPair::generate();
        assert_eq!(a.private_bytes().len(), PRIVATE_KEY_LEN);
        assert_ne!(a.public_bytes(), b.public_bytes());
        assert!(is_valid_public(&a.public_bytes()));
        let x = BoxedUint::from_be_slice(&a.private_bytes(), COMB_BITS).unwrap();
        let y = BoxedUint::from_be_slice(&a.public_bytes(), MODULUS_BITS).unwrap();
        assert_eq!(pow_generator_bounded(&x, COMB_BITS), y);
        let s1 = a.shared_secret(&b.public_bytes()).unwrap();
        let s2 = b.shared_secret(&a.public_bytes()).unwrap();
        assert_eq!(*s1, *s2);
        assert!(s1.len() <= MODULUS_LEN && s1[0] != 0);
        let copy = a.clone();
        assert_eq!(copy.public_bytes(), a.public_bytes());
        assert_eq!(*copy.private_bytes(), *a.private_bytes());
        assert!(!format!("{a:?}").contains(&tohex(&a.private_bytes())));
    }

    /// libotr's `otrl_dh_compute_v2_auth_keys` refuses exactly these with
    /// `GPG_ERR_INV_VALUE` (source 32); 2, 3, p-3 and p-2 are accepted.
    #[test]
    fn public_value_range() {
        let kp = DhKeyPair::from_private(&unhex(PAIR1.a_priv)).unwrap();
        let inv = Err(OtrError::libotr(code::INV_VALUE));
        let p_plus_5 = BoxedUint::from_be_slice(&MODULUS, MODULUS_BITS)
            .unwrap()
            .wrapping_add(BoxedUint::from(5u8).resize(MODULUS_BITS))
            .to_be_bytes()
            .into_vec();
        let too_long = [vec![1u8], vec![0; MODULUS_LEN]].concat();
        for bad in [
            vec![],
            vec![0],
            vec![1],
            vec![0, 0, 1],
            p_minus(1),
            MODULUS.to_vec(),
            p_plus_5,
            vec![0xff; MODULUS_LEN],
            too_long,
        ] {
            assert!(!is_valid_public(&bad), "{}", tohex(&bad));
            assert_eq!(kp.shared_secret(&bad).map(|_| ()), inv, "{}", tohex(&bad));
        }
        for good in [vec![2], vec![0, 0, 3], p_minus(2), p_minus(3)] {
            assert!(is_valid_public(&good), "{}", tohex(&good));
            assert!(kp.shared_secret(&good).is_ok());
        }
        let padded = [vec![0u8; 8], unhex(PAIR1.b_pub)].concat();
        assert_eq!(tohex(&kp.shared_secret(&padded).unwrap()), PAIR1.s);
    }

    #[test]
    fn from_private_bounds() {
        let inv = Err(OtrError::libotr(code::INV_VALUE));
        assert_eq!(DhKeyPair::from_private(&[]).map(|_| ()), inv);
        assert_eq!(DhKeyPair::from_private(&[0; 40]).map(|_| ()), inv);
        assert_eq!(DhKeyPair::from_private(&[1; 193]).map(|_| ()), inv);
        let one = DhKeyPair::from_private(&[1]).unwrap();
        assert_eq!(one.public_bytes(), [2]);
        assert_eq!(*one.private_bytes(), [1]);
        // Longer exponents than the table covers take the generic path.
        let long = [vec![0u8; 40], unhex(PAIR1.a_priv)].concat();
        let kp = DhKeyPair::from_private(&long).unwrap();
        assert_eq!(tohex(&kp.public_bytes()), PAIR1.a_pub);
        assert_eq!(*kp.private_bytes(), long);
        let big = DhKeyPair::from_private(&[0xff; MODULUS_LEN]).unwrap();
        let s1 = big.shared_secret(&one.public_bytes()).unwrap();
        assert_eq!(*s1, big.public_bytes(), "2^x via y^x");
    }

    #[test]
    fn mpi_encoding() {
        assert_eq!(mpi(&[]), [0, 0, 0, 0]);
        assert_eq!(mpi(&[0, 0]), [0, 0, 0, 0]);
        assert_eq!(mpi(&[0, 1, 2]), [0, 0, 0, 2, 1, 2]);
        assert_eq!(mpi(&[0x80]), [0, 0, 0, 1, 0x80]);
        let long = mpi(&MODULUS);
        assert_eq!(long[..4], [0, 0, 0, 192]);
        assert_eq!(long[4..], MODULUS);
    }

    #[test]
    fn digit_extraction() {
        let x = BoxedUint::from_be_slice(&[0xff; 40], COMB_BITS).unwrap();
        for i in 0..COMB_ROWS {
            assert_eq!(digit(x.as_words(), i * COMB_WIDTH), 31);
        }
        // 0b1_00000 at bit 60 straddles a 64-bit limb boundary.
        let x = BoxedUint::from(1u128 << 64).resize(COMB_BITS);
        assert_eq!(digit(x.as_words(), 60), 16);
        assert_eq!(digit(x.as_words(), 65), 0);
    }

    /// Release-mode timings, comparing the fixed-base table with bounded
    /// exponentiation: `cargo test --release -p otr-core crypto::dh::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        use std::time::Instant;
        let t = Instant::now();
        let _ = comb();
        let build_ms = t.elapsed().as_secs_f64() * 1e3;
        let n = 2000u32;
        let xs: Vec<BoxedUint> = (0..n)
            .map(|i| {
                let bytes: Vec<u8> = (0..40u32).map(|k| (i * 131 + k * 7 + 1) as u8).collect();
                BoxedUint::from_be_slice(&bytes, COMB_BITS).unwrap()
            })
            .collect();
        let mut best = [f64::MAX; 4];
        let other = DhKeyPair::generate().public_bytes();
        for _ in 0..3 {
            let t = Instant::now();
            for x in &xs {
                std::hint::black_box(comb().pow(x));
            }
            best[0] = best[0].min(t.elapsed().as_secs_f64() * 1e6 / f64::from(n));
            let t = Instant::now();
            for x in &xs {
                std::hint::black_box(pow_generator_bounded(x, COMB_BITS));
            }
            best[1] = best[1].min(t.elapsed().as_secs_f64() * 1e6 / f64::from(n));
            let t = Instant::now();
            for _ in 0..n {
                std::hint::black_box(DhKeyPair::generate());
            }
            best[2] = best[2].min(t.elapsed().as_secs_f64() * 1e6 / f64::from(n));
            let kp = DhKeyPair::generate();
            let t = Instant::now();
            for _ in 0..n {
                std::hint::black_box(kp.shared_secret(&other).unwrap());
            }
            best[3] = best[3].min(t.elapsed().as_secs_f64() * 1e6 / f64::from(n));
        }
        println!(
            "table build {build_ms:.1} ms; 2^x: table {:.1} us, bounded pow {:.1} us; \
             generate {:.1} us; shared_secret {:.1} us",
            best[0], best[1], best[2], best[3]
        );
    }
}
