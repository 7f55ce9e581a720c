//! DSA exactly as libotr 4.1.1 uses it.
//!
//! libotr signs with libgcrypt's DSA over 1024-bit p / 160-bit q keys, and a
//! few details of that use are not textbook DSA, so they are reproduced here:
//!
//! * The signed value (a 32-byte SHA-256 MAC in the AKE) is read as one
//!   unsigned big-endian integer and *reduced modulo q*; it is not truncated
//!   to its leftmost 160 bits as FIPS 186 prescribes. libgcrypt gets a plain
//!   MPI from libotr and only ever uses it in arithmetic modulo q.
//! * A signature is always 40 bytes: r and s, each left-padded to 20 bytes.
//! * A public key travels as a 2-byte type (0 = DSA) followed by p, q, g, y as
//!   OTR MPIs, and its fingerprint is SHA-1 over the four MPIs exactly as they
//!   were received (a peer's non-minimal encoding is part of its fingerprint).
//!
//! Arithmetic is crypto-bigint's constant-time Montgomery arithmetic. Secret
//! exponents (x, k) are bounded to q's 160 bits rather than p's 1024, which
//! keeps signing cheap without making its timing depend on their values.

use std::fmt;
use std::sync::OnceLock;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, NonZero, Odd, Resize};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::Rng;
use sha1::{Digest, Sha1};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{code, OtrError, Result};

/// The public-key type number OTR puts in front of a DSA key.
pub const PUBKEY_TYPE_DSA: u16 = 0x0000;

/// Length of an OTR DSA signature: r and s, 20 bytes each.
pub const SIGNATURE_LEN: usize = 40;

/// Largest p (and g, y) accepted from the wire or from a caller, in bits.
const MAX_WIRE_BITS: u32 = 4096;

/// Largest p accepted for one of our own private keys, in bits.
const MAX_PRIVATE_P_BITS: u32 = 3072;

/// Size of q that libotr's fixed 40-byte signatures can carry, in bits.
const Q_BITS: u32 = 160;

/// Size of p for freshly generated keys, in bits.
const GEN_P_BITS: u32 = 1024;

/// Odd primes below this bound are used to sieve candidates for p.
const SIEVE_PRIME_BOUND: u32 = 1 << 16;

/// Number of candidates for p examined per random starting point.
const SIEVE_WINDOW: usize = 4096;

fn inv_value() -> OtrError {
    OtrError::libotr(code::INV_VALUE)
}

/// The operating system's random generator as an infallible CSPRNG.
fn os_rng() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}

/// Drops leading zero bytes so every number has one canonical encoding.
fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Decodes a public big-endian magnitude, rejecting values above `max_bits`.
fn public_uint(bytes: &[u8], max_bits: u32) -> Result<BoxedUint> {
    let bytes = trim_leading_zeros(bytes);
    if bytes.len() > max_bits.div_ceil(8) as usize {
        return Err(inv_value());
    }
    let value = if bytes.is_empty() {
        BoxedUint::zero()
    } else {
        BoxedUint::from_be_slice_vartime(bytes)
    };
    if value.bit_width_vartime() > max_bits {
        return Err(inv_value());
    }
    Ok(value)
}

/// Minimal big-endian magnitude of a public number (zero gives no bytes).
fn minimal_be(value: &BoxedUint) -> Vec<u8> {
    value.to_be_bytes_trimmed_vartime().into_vec()
}

/// Writes `value` into `out`, right-aligned; the caller guarantees it fits.
fn write_padded(value: &BoxedUint, out: &mut [u8]) {
    let bytes = Zeroizing::new(value.to_be_bytes());
    let skip = bytes.len().saturating_sub(out.len());
    debug_assert!(bytes[..skip].iter().all(|&b| b == 0));
    let tail = &bytes[skip..];
    let pad = out.len() - tail.len();
    out[..pad].fill(0);
    out[pad..].copy_from_slice(tail);
}

/// Appends an OTR MPI: 4-byte big-endian length, then the magnitude.
fn write_mpi(out: &mut Vec<u8>, value: &BoxedUint) {
    let bytes = minimal_be(value);
    let len = u32::try_from(bytes.len()).expect("bounded by MAX_WIRE_BITS");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes);
}

/// Reads one OTR MPI from the front of `buf`; returns its bytes and the rest.
fn read_mpi(buf: &[u8]) -> Result<(&[u8], &[u8])> {
    let (len, rest) = buf.split_first_chunk::<4>().ok_or_else(inv_value)?;
    let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| inv_value())?;
    if rest.len() < len {
        return Err(inv_value());
    }
    Ok(rest.split_at(len))
}

/// The value signed by libotr: `data` as a big-endian integer, modulo q.
fn reduce_mod_q(data: &[u8], q: &NonZero<BoxedUint>) -> BoxedUint {
    let data = trim_leading_zeros(data);
    let value = if data.is_empty() {
        BoxedUint::zero_with_precision(q.bits_precision())
    } else {
        BoxedUint::from_be_slice_vartime(data)
    };
    value.rem_vartime(q)
}

/// Precomputed Montgomery contexts of a key whose p and q are usable moduli.
#[derive(Clone)]
struct Group {
    q: NonZero<BoxedUint>,
    q_bits: u32,
    p_params: BoxedMontyParams,
    q_params: BoxedMontyParams,
    g: BoxedMontyForm,
    y: BoxedMontyForm,
}

impl Group {
    /// Builds the contexts, or `None` when p or q cannot be a modulus here.
    fn new(p: &BoxedUint, q: &BoxedUint, g: &BoxedUint, y: &BoxedUint) -> Option<Group> {
        let three = BoxedUint::from(3u8);
        if p.cmp_vartime(&three).is_lt() || q.cmp_vartime(&three).is_lt() {
            return None;
        }
        let p_odd: Odd<BoxedUint> = p.to_odd().into_option()?;
        let q_odd: Odd<BoxedUint> = q.to_odd().into_option()?;
        let p_nz = p.to_nz().into_option()?;
        let p_params = BoxedMontyParams::new_vartime(p_odd);
        let q_params = BoxedMontyParams::new_vartime(q_odd);
        let g = BoxedMontyForm::new(g.rem_vartime(&p_nz), &p_params);
        let y = BoxedMontyForm::new(y.rem_vartime(&p_nz), &p_params);
        Some(Group {
            q: q.to_nz().into_option()?,
            q_bits: q.bit_width_vartime(),
            p_params,
            q_params,
            g,
            y,
        })
    }

    /// Reduces a number (typically a residue mod p) modulo q, at q's precision.
    fn mod_q(&self, value: &BoxedUint) -> BoxedUint {
        value.rem_vartime(&self.q)
    }

    /// g^u1 · y^u2 mod p for public exponents, two bits of each per step.
    fn double_exp_vartime(&self, u1: &BoxedUint, u2: &BoxedUint) -> BoxedMontyForm {
        // table[4 * i + j] = g^i · y^j for i, j in 0..4.
        let one = BoxedMontyForm::one(&self.p_params);
        let g2 = self.g.square();
        let g3 = &g2 * &self.g;
        let y2 = self.y.square();
        let y3 = &y2 * &self.y;
        let gs = [one.clone(), self.g.clone(), g2, g3];
        let ys = [one.clone(), self.y.clone(), y2, y3];
        let mut table = Vec::with_capacity(16);
        for gi in &gs {
            for yj in &ys {
                table.push(gi * yj);
            }
        }
        let bits = u1
            .bit_width_vartime()
            .max(u2.bit_width_vartime())
            .next_multiple_of(2);
        let mut acc = one;
        let mut i = bits;
        while i > 0 {
            i -= 2;
            acc = acc.square().square();
            let d1 = (u8::from(u1.bit_vartime(i + 1)) << 1) | u8::from(u1.bit_vartime(i));
            let d2 = (u8::from(u2.bit_vartime(i + 1)) << 1) | u8::from(u2.bit_vartime(i));
            let idx = usize::from(4 * d1 + d2);
            if idx != 0 {
                acc = &acc * &table[idx];
            }
        }
        acc
    }
}

/// A DSA public key as OTR exchanges and fingerprints it.
///
/// Besides the numbers it keeps the exact MPI bytes it was made from, because
/// libotr's fingerprint and AKE MAC cover a peer's key byte for byte.
#[derive(Clone)]
pub struct DsaPublicKey {
    p: BoxedUint,
    q: BoxedUint,
    g: BoxedUint,
    y: BoxedUint,
    /// p, q, g, y as OTR MPIs, without the 2-byte type.
    encoded: Vec<u8>,
    group: Option<Group>,
}

impl DsaPublicKey {
    fn from_parts(
        p: BoxedUint,
        q: BoxedUint,
        g: BoxedUint,
        y: BoxedUint,
        encoded: Vec<u8>,
    ) -> Self {
        let group = Group::new(&p, &q, &g, &y);
        DsaPublicKey {
            p,
            q,
            g,
            y,
            encoded,
            group,
        }
    }

    /// Builds a key from big-endian magnitudes, as a C caller holding a
    /// libgcrypt key hands them over; encodes them minimally like libotr does.
    ///
    /// Only sizes are checked (each number at most 4096 bits): like libgcrypt,
    /// a malformed key is not an error here, it just never verifies anything.
    pub fn from_components(p: &[u8], q: &[u8], g: &[u8], y: &[u8]) -> Result<Self> {
        let p = public_uint(p, MAX_WIRE_BITS)?;
        let q = public_uint(q, MAX_WIRE_BITS)?;
        let g = public_uint(g, MAX_WIRE_BITS)?;
        let y = public_uint(y, MAX_WIRE_BITS)?;
        let mut encoded = Vec::new();
        for v in [&p, &q, &g, &y] {
            write_mpi(&mut encoded, v);
        }
        Ok(Self::from_parts(p, q, g, y, encoded))
    }

    /// Serializes the key for an AKE message: type 0x0000, then p, q, g, y.
    ///
    /// A key parsed from the wire reproduces the bytes it was parsed from, so
    /// MACs computed over it match what the peer computed.
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.encoded.len());
        out.extend_from_slice(&PUBKEY_TYPE_DSA.to_be_bytes());
        out.extend_from_slice(&self.encoded);
        out
    }

    /// Parses a key from the front of `buf` (type, then four MPIs), returning
    /// it and the number of bytes it occupied, as libotr's AKE reads one.
    ///
    /// Fails with libotr's `GPG_ERR_INV_VALUE` on a non-DSA type, a truncated
    /// buffer, or a number above 4096 bits (libotr has no limit, but no OTR
    /// client makes such keys and they would only cost time).
    pub fn parse(buf: &[u8]) -> Result<(Self, usize)> {
        let (ty, mut rest) = buf.split_first_chunk::<2>().ok_or_else(inv_value)?;
        if u16::from_be_bytes(*ty) != PUBKEY_TYPE_DSA {
            return Err(inv_value());
        }
        let start = rest;
        let mut nums = Vec::with_capacity(4);
        for _ in 0..4 {
            let (bytes, tail) = read_mpi(rest)?;
            nums.push(public_uint(bytes, MAX_WIRE_BITS)?);
            rest = tail;
        }
        let used = start.len() - rest.len();
        let encoded = start[..used].to_vec();
        let y = nums.pop().expect("four numbers");
        let g = nums.pop().expect("four numbers");
        let q = nums.pop().expect("four numbers");
        let p = nums.pop().expect("four numbers");
        Ok((Self::from_parts(p, q, g, y, encoded), 2 + used))
    }

    /// The OTR fingerprint: SHA-1 over the four MPIs (the type is excluded),
    /// which is what users compare and what the fingerprint store records.
    pub fn fingerprint(&self) -> [u8; 20] {
        Sha1::digest(&self.encoded).into()
    }

    /// Checks an OTR signature (r||s, 40 bytes) on `data` reduced mod q.
    ///
    /// Returns `false` for anything libotr would not accept: a length other
    /// than 40, r or s outside (0, q), or a wrong signature. Keys whose p or
    /// q is even or below 3 verify nothing (libgcrypt would still compute with
    /// them, but no OTR client makes such keys).
    pub fn verify(&self, sig: &[u8], data: &[u8]) -> bool {
        self.verify_libotr(sig, data).is_ok()
    }

    /// [`verify`](Self::verify) with the error `otrl_privkey_verify` returns:
    /// libotr's `GPG_ERR_INV_VALUE` for a wrong length, libgcrypt's
    /// `GPG_ERR_BAD_SIGNATURE` for a signature that does not check out.
    pub fn verify_libotr(&self, sig: &[u8], data: &[u8]) -> Result<()> {
        if sig.len() != SIGNATURE_LEN {
            return Err(inv_value());
        }
        let bad = OtrError::gcrypt(code::BAD_SIGNATURE);
        let grp = self.group.as_ref().ok_or(bad)?;
        let (r_bytes, s_bytes) = sig.split_at(SIGNATURE_LEN / 2);
        let r = BoxedUint::from_be_slice_vartime(r_bytes);
        let s = BoxedUint::from_be_slice_vartime(s_bytes);
        let q = grp.q.as_ref();
        let in_range = |v: &BoxedUint| !v.is_zero_vartime_pub() && v.cmp_vartime(q).is_lt();
        if !in_range(&r) || !in_range(&s) {
            return Err(bad);
        }
        let prec = grp.q_params.bits_precision();
        let r = r.resize(prec);
        let s = s.resize(prec);
        let h = reduce_mod_q(data, &grp.q).resize(prec);
        let w = BoxedMontyForm::new(s, &grp.q_params).invert_vartime();
        let w = w.into_option().ok_or(bad)?;
        let u1 = (BoxedMontyForm::new(h, &grp.q_params) * &w).retrieve();
        let u2 = (BoxedMontyForm::new(r.clone(), &grp.q_params) * &w).retrieve();
        let v = grp.mod_q(&grp.double_exp_vartime(&u1, &u2).retrieve());
        if v.resize(prec) == r {
            Ok(())
        } else {
            Err(bad)
        }
    }

    /// p as a minimal big-endian magnitude, for writing key files.
    pub fn p(&self) -> Vec<u8> {
        minimal_be(&self.p)
    }

    /// q as a minimal big-endian magnitude, for writing key files.
    pub fn q(&self) -> Vec<u8> {
        minimal_be(&self.q)
    }

    /// g as a minimal big-endian magnitude, for writing key files.
    pub fn g(&self) -> Vec<u8> {
        minimal_be(&self.g)
    }

    /// y as a minimal big-endian magnitude, for writing key files.
    pub fn y(&self) -> Vec<u8> {
        minimal_be(&self.y)
    }
}

/// Two keys are the same key to OTR when their fingerprinted bytes match.
impl PartialEq for DsaPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.encoded == other.encoded
    }
}

impl Eq for DsaPublicKey {}

impl fmt::Debug for DsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DsaPublicKey")
            .field("fingerprint", &hash_to_human(&self.fingerprint()))
            .field("p_bits", &self.p.bit_width_vartime())
            .field("q_bits", &self.q.bit_width_vartime())
            .finish()
    }
}

/// An account's long-term DSA signing key; x is wiped when dropped.
#[derive(Clone)]
pub struct DsaPrivateKey {
    public: DsaPublicKey,
    /// Stored at the precision of q.
    x: BoxedUint,
}

impl Drop for DsaPrivateKey {
    fn drop(&mut self) {
        self.x.zeroize();
    }
}

impl fmt::Debug for DsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DsaPrivateKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// How many random k [`DsaPrivateKey::sign`] tries before it gives up on a
/// key whose parameters cannot sign.
pub const MAX_SIGN_TRIES: usize = 64;

impl DsaPrivateKey {
    /// Builds a key from big-endian magnitudes (leading zero bytes allowed),
    /// as read from a libotr private-key file.
    ///
    /// Rejects, with libotr's `GPG_ERR_INV_VALUE`, keys that libotr's fixed
    /// 40-byte signatures cannot serve: q must be an odd 160-bit number, p odd
    /// and at most 3072 bits, 1 < g < p, 0 < y < p and 0 < x < q. y = g^x is
    /// not checked (libotr does not check it either).
    pub fn from_components(p: &[u8], q: &[u8], g: &[u8], y: &[u8], x: &[u8]) -> Result<Self> {
        let p = public_uint(p, MAX_PRIVATE_P_BITS)?;
        let q = public_uint(q, Q_BITS)?;
        let g = public_uint(g, MAX_PRIVATE_P_BITS)?;
        let y = public_uint(y, MAX_PRIVATE_P_BITS)?;
        if q.bit_width_vartime() != Q_BITS || !q.bit_vartime(0) || !p.bit_vartime(0) {
            return Err(inv_value());
        }
        if p.bit_width_vartime() <= Q_BITS {
            return Err(inv_value());
        }
        let one = BoxedUint::one();
        if g.cmp_vartime(&one).is_le() || g.cmp_vartime(&p).is_ge() {
            return Err(inv_value());
        }
        if y.is_zero_vartime_pub() || y.cmp_vartime(&p).is_ge() {
            return Err(inv_value());
        }
        let x_bytes = trim_leading_zeros(x);
        if x_bytes.len() > (Q_BITS / 8) as usize {
            return Err(inv_value());
        }
        let x = BoxedUint::from_be_slice(x_bytes, q.bits_precision()).map_err(|_| inv_value())?;
        let x_ok = bool::from(x.is_nonzero()) && x < q;
        if !x_ok {
            return Err(inv_value());
        }
        let public = DsaPublicKey::from_components(
            &minimal_be(&p),
            &minimal_be(&q),
            &minimal_be(&g),
            &minimal_be(&y),
        )?;
        if public.group.is_none() {
            return Err(inv_value());
        }
        Ok(DsaPrivateKey { public, x })
    }

    /// Makes a fresh 1024/160 key the way `gcry_pk_genkey` does for libotr's
    /// `(genkey (dsa (nbits 4:1024)))`: prime q of 160 bits, prime
    /// p = kq + 1 of exactly 1024 bits, g = h^((p-1)/q) ≠ 1 for h = 2, 3, …,
    /// x uniform in [1, q-1], y = g^x. Randomness comes from the OS.
    pub fn generate() -> Self {
        let mut rng = os_rng();
        loop {
            let q: BoxedUint =
                crypto_primes::random_prime(&mut rng, crypto_primes::Flavor::Any, Q_BITS);
            let Some(p) = find_p(&q, &mut rng) else {
                continue;
            };
            let g = find_generator(&p, &q);
            let q_bits_prec = q.bits_precision();
            let group = Group::new(&p, &q, &g, &BoxedUint::one()).expect("p and q are odd primes");
            let x = random_scalar(&q, &mut rng);
            let y = group.g.pow_bounded_exp(&x, Q_BITS).retrieve();
            debug_assert_eq!(x.bits_precision(), q_bits_prec);
            let public = DsaPublicKey::from_components(
                &minimal_be(&p),
                &minimal_be(&q),
                &minimal_be(&g),
                &minimal_be(&y),
            )
            .expect("generated sizes are in range");
            return DsaPrivateKey {
                public,
                x: (*x).clone(),
            };
        }
    }

    /// The public half, which is what peers see and fingerprint.
    pub fn public(&self) -> &DsaPublicKey {
        &self.public
    }

    /// p as a minimal big-endian magnitude, for writing the key file.
    pub fn p(&self) -> Vec<u8> {
        self.public.p()
    }

    /// q as a minimal big-endian magnitude, for writing the key file.
    pub fn q(&self) -> Vec<u8> {
        self.public.q()
    }

    /// g as a minimal big-endian magnitude, for writing the key file.
    pub fn g(&self) -> Vec<u8> {
        self.public.g()
    }

    /// y as a minimal big-endian magnitude, for writing the key file.
    pub fn y(&self) -> Vec<u8> {
        self.public.y()
    }

    /// x as a minimal big-endian magnitude, for writing the key file; the
    /// buffer wipes itself so the secret does not linger on the heap.
    pub fn x(&self) -> Zeroizing<Vec<u8>> {
        let full = Zeroizing::new(self.x.to_be_bytes());
        Zeroizing::new(trim_leading_zeros(&full).to_vec())
    }

    /// Signs like `otrl_privkey_sign`: `data` read as a big-endian integer
    /// and reduced mod q, a fresh random k, and r||s each padded to 20 bytes.
    ///
    /// With a sound key a retry for r = 0 or s = 0 happens about once in
    /// 2^160 signatures. A key file can hold parameters that are not a DSA
    /// group (p composite, g of the wrong order) for which r is always 0;
    /// after [`MAX_SIGN_TRIES`] tries such a key gives libotr's
    /// `GPG_ERR_INV_VALUE` instead of looping for ever.
    pub fn sign(&self, data: &[u8]) -> Result<[u8; SIGNATURE_LEN]> {
        self.sign_with_rng(data, &mut os_rng())
    }

    fn sign_with_rng<R: Rng + ?Sized>(
        &self,
        data: &[u8],
        rng: &mut R,
    ) -> Result<[u8; SIGNATURE_LEN]> {
        let grp = self
            .public
            .group
            .as_ref()
            .expect("private keys are validated");
        let prec = grp.q_params.bits_precision();
        let h = BoxedMontyForm::new(reduce_mod_q(data, &grp.q).resize(prec), &grp.q_params);
        let x = Zeroizing::new(BoxedMontyForm::new(self.x.clone(), &grp.q_params));
        for _ in 0..MAX_SIGN_TRIES {
            let k = random_scalar(grp.q.as_ref(), rng);
            let r = grp.mod_q(&grp.g.pow_bounded_exp(&k, grp.q_bits).retrieve());
            if r.is_zero_vartime_pub() {
                continue;
            }
            let r = r.resize(prec);
            let k_m = Zeroizing::new(BoxedMontyForm::new((*k).clone(), &grp.q_params));
            let Some(k_inv) = k_m.invert().into_option() else {
                continue;
            };
            let k_inv = Zeroizing::new(k_inv);
            let xr = Zeroizing::new(&*x * &BoxedMontyForm::new(r.clone(), &grp.q_params));
            let sum = Zeroizing::new(&h + &*xr);
            let s = (&*k_inv * &*sum).retrieve();
            if s.is_zero_vartime_pub() {
                continue;
            }
            let mut out = [0u8; SIGNATURE_LEN];
            write_padded(&r, &mut out[..SIGNATURE_LEN / 2]);
            write_padded(&s, &mut out[SIGNATURE_LEN / 2..]);
            return Ok(out);
        }
        Err(inv_value())
    }
}

/// Formats a fingerprint as libotr's `otrl_privkey_hash_to_human` does, the
/// form users read aloud: five groups of eight uppercase hex digits.
pub fn hash_to_human(fp: &[u8; 20]) -> String {
    let mut out = String::with_capacity(44);
    for (i, chunk) in fp.chunks(4).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        for b in chunk {
            out.push_str(&format!("{b:02X}"));
        }
    }
    out
}

/// A uniform secret in [1, q-1] at q's precision, by rejection sampling.
fn random_scalar<R: Rng + ?Sized>(q: &BoxedUint, rng: &mut R) -> Zeroizing<BoxedUint> {
    let bits = q.bit_width_vartime();
    let len = bits.div_ceil(8) as usize;
    let top_mask = 0xffu8 >> ((8 - bits % 8) % 8);
    let mut buf = Zeroizing::new(vec![0u8; len]);
    loop {
        rng.fill_bytes(&mut buf);
        buf[0] &= top_mask;
        let k = Zeroizing::new(
            BoxedUint::from_be_slice(&buf, q.bits_precision()).expect("fits q's precision"),
        );
        let ok = bool::from(k.is_nonzero()) && *k < *q;
        if ok {
            return k;
        }
    }
}

/// Odd primes below [`SIEVE_PRIME_BOUND`], computed once.
fn sieve_primes() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        let n = SIEVE_PRIME_BOUND as usize;
        let mut composite = vec![false; n];
        let mut primes = Vec::new();
        for i in 3..n {
            if composite[i] || i % 2 == 0 {
                continue;
            }
            primes.push(u32::try_from(i).expect("below the bound"));
            let mut j = i * i;
            while j < n {
                composite[j] = true;
                j += i;
            }
        }
        primes
    })
}

/// `n mod r` for a big-endian byte string and a small modulus.
fn residue(be: &[u8], r: u32) -> u32 {
    let r = u64::from(r);
    let mut acc = 0u64;
    let (head, chunks) = be.split_at(be.len() % 4);
    for &b in head {
        acc = ((acc << 8) | u64::from(b)) % r;
    }
    for c in chunks.chunks_exact(4) {
        let w = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        acc = ((acc << 32) | u64::from(w)) % r;
    }
    u32::try_from(acc).expect("below r")
}

/// `a^-1 mod m` for coprime small numbers.
fn small_inverse(a: u32, m: u32) -> u32 {
    let (mut old_r, mut r) = (i64::from(a), i64::from(m));
    let (mut old_s, mut s) = (1i64, 0i64);
    while r != 0 {
        let quot = old_r / r;
        (old_r, r) = (r, old_r - quot * r);
        (old_s, s) = (s, old_s - quot * s);
    }
    debug_assert_eq!(old_r, 1);
    u32::try_from(old_s.rem_euclid(i64::from(m))).expect("below m")
}

/// Searches one random window for a prime p ≡ 1 (mod 2q) of exactly
/// [`GEN_P_BITS`] bits, sieving out small factors before testing.
fn find_p<R: rand::CryptoRng + ?Sized>(q: &BoxedUint, rng: &mut R) -> Option<BoxedUint> {
    let two_q = q.resize(GEN_P_BITS).shl_vartime(1)?;
    let two_q_nz = two_q.to_nz().into_option()?;
    let two_q_be = two_q.to_be_bytes();
    let primes = sieve_primes();
    // For each small prime r: (2q)^-1 mod r, to solve base + j·2q ≡ 0.
    let inverses: Vec<u32> = primes
        .iter()
        .map(|&r| small_inverse(residue(&two_q_be, r), r))
        .collect();

    let mut start = [0u8; (GEN_P_BITS / 8) as usize];
    rng.fill_bytes(&mut start);
    start[0] |= 0x80;
    let start = BoxedUint::from_be_slice(&start, GEN_P_BITS).expect("exact size");
    // base ≡ 1 (mod 2q), at or just below the random start.
    let mut base = start
        .wrapping_sub(start.rem_vartime(&two_q_nz))
        .wrapping_add(BoxedUint::one());
    if base.bit_width_vartime() < GEN_P_BITS {
        base = base.wrapping_add(&two_q);
    }
    // The whole window must stay below 2^GEN_P_BITS.
    let window_span = two_q.wrapping_mul(BoxedUint::from(SIEVE_WINDOW as u64).resize(GEN_P_BITS));
    let (_, overflow) = base.carrying_add(&window_span, crypto_bigint::Limb::ZERO);
    if overflow != crypto_bigint::Limb::ZERO {
        return None;
    }

    let base_be = base.to_be_bytes();
    let mut composite = vec![false; SIEVE_WINDOW];
    for (&r, &inv) in primes.iter().zip(&inverses) {
        let a = residue(&base_be, r);
        let first = (u64::from(r - a) % u64::from(r)) * u64::from(inv) % u64::from(r);
        let mut j = usize::try_from(first).expect("small");
        while j < SIEVE_WINDOW {
            composite[j] = true;
            j += r as usize;
        }
    }

    for (j, _) in composite.iter().enumerate().filter(|(_, &c)| !c) {
        let offset = two_q.wrapping_mul(BoxedUint::from(j as u64).resize(GEN_P_BITS));
        let candidate = base.wrapping_add(&offset);
        if crypto_primes::is_prime(crypto_primes::Flavor::Any, &candidate) {
            return Some(candidate);
        }
    }
    None
}

/// The first h^((p-1)/q) mod p, h = 2, 3, …, that is not 1: an element of
/// order q, found the same way libgcrypt does.
fn find_generator(p: &BoxedUint, q: &BoxedUint) -> BoxedUint {
    let p_params = BoxedMontyParams::new_vartime(p.to_odd().into_option().expect("p is odd"));
    let q_nz = q
        .resize(p.bits_precision())
        .to_nz()
        .into_option()
        .expect("q > 0");
    let e = p.wrapping_sub(BoxedUint::one()).div_rem_vartime(&q_nz).0;
    let e_bits = e.bit_width_vartime();
    let one = BoxedMontyForm::one(&p_params);
    let mut h = 2u64;
    loop {
        let base = BoxedMontyForm::new(BoxedUint::from(h).resize(p.bits_precision()), &p_params);
        let g = base.pow_bounded_exp(&e, e_bits);
        if g != one {
            return g.retrieve();
        }
        h += 1;
    }
}

/// Small helpers that crypto-bigint keeps crate-private.
trait BoxedUintExt {
    fn is_zero_vartime_pub(&self) -> bool;
}

impl BoxedUintExt for BoxedUint {
    fn is_zero_vartime_pub(&self) -> bool {
        self.as_words().iter().all(|&w| w == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        assert_eq!(s.len() % 2, 0);
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn tohex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Output of a throwaway C program linked against Debian's libotr 4.1.1
    /// (libotr5 4.1.1-5, libgcrypt 1.10.1): the key's numbers, libotr's
    /// `pubkey_data` (the four MPIs, no type), `otrl_privkey_fingerprint_raw`,
    /// `otrl_privkey_fingerprint`, and `otrl_privkey_sign` outputs.
    struct Vectors {
        p: &'static str,
        q: &'static str,
        g: &'static str,
        y: &'static str,
        x: &'static str,
        pubkey_data: &'static str,
        fp: &'static str,
        human: &'static str,
        sigs: &'static [(&'static str, &'static str)],
    }

    impl Vectors {
        fn key(&self) -> DsaPrivateKey {
            DsaPrivateKey::from_components(
                &unhex(self.p),
                &unhex(self.q),
                &unhex(self.g),
                &unhex(self.y),
                &unhex(self.x),
            )
            .unwrap()
        }
    }

    /// Key made by libotr (`otrl_privkey_generate`).
    const K1: Vectors = Vectors {
        p: concat!(
            "da0a6a030bca396300c5b3ee01c8e9f084acb72829f70015145bc5821fd3c9d2864525a95888888bc8c03f9eeb0f664f",
            "b29229e6f893d0854671340b86a981009c041065ace89d961c69ac95add5663d82036054c8186596b8cfd8e338c4687e",
            "69e7a5173e4d690b017e40ccb81bd8714dab1fd7f670767772fd6802cb05ab57",
        ),
        q: "c587cdf0d8844dcd8b11252312a3bcebe2107b67",
        g: concat!(
            "8f686e58e3d51657127633e64fa57163d013db835e642c953804fde4a2f547b2387548a2a46fa8d52a68fba46d647bac",
            "c3392030ac4426346a3712af0a42dc1cf81c646c783912b2584cc563e57d44bbd3f16124eeb33f793c1800dfad5bf3ed",
            "6e07c4999d9c40d2d8ce74c3b4695d6d994d59d6978860b90522501ead9b9a7e",
        ),
        y: concat!(
            "11706b63e70247b62356fcb3459ef7ee580dcd80fceb46ebb96bbe303fa259bbd536840e1cd67cd16908e382e79e5d94",
            "653c7ceb107e6d95cb8157a5ebec3651fd1de8c9133bface3b7a74f11bab35d70465ef824c3adfa0b36e0394f00d7b16",
            "aabd8dbdac9394cf2d0d797ad137abc4690c7178bed6ef7ad01b780bdaed9c7a",
        ),
        x: "8480eb2cfec9ea57b8f5026bcaaf3e1bf4569fdb",
        pubkey_data: concat!(
            "00000080da0a6a030bca396300c5b3ee01c8e9f084acb72829f70015145bc5821fd3c9d2864525a95888888bc8c03f9e",
            "eb0f664fb29229e6f893d0854671340b86a981009c041065ace89d961c69ac95add5663d82036054c8186596b8cfd8e3",
            "38c4687e69e7a5173e4d690b017e40ccb81bd8714dab1fd7f670767772fd6802cb05ab5700000014c587cdf0d8844dcd",
            "8b11252312a3bcebe2107b67000000808f686e58e3d51657127633e64fa57163d013db835e642c953804fde4a2f547b2",
            "387548a2a46fa8d52a68fba46d647bacc3392030ac4426346a3712af0a42dc1cf81c646c783912b2584cc563e57d44bb",
            "d3f16124eeb33f793c1800dfad5bf3ed6e07c4999d9c40d2d8ce74c3b4695d6d994d59d6978860b90522501ead9b9a7e",
            "0000008011706b63e70247b62356fcb3459ef7ee580dcd80fceb46ebb96bbe303fa259bbd536840e1cd67cd16908e382",
            "e79e5d94653c7ceb107e6d95cb8157a5ebec3651fd1de8c9133bface3b7a74f11bab35d70465ef824c3adfa0b36e0394",
            "f00d7b16aabd8dbdac9394cf2d0d797ad137abc4690c7178bed6ef7ad01b780bdaed9c7a",
        ),
        fp: "3d1094a549d6b1b0b7d32c4c1bc857e54c118af4",
        human: "3D1094A5 49D6B1B0 B7D32C4C 1BC857E5 4C118AF4",
        sigs: &[
            ("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "ac152e7587b1f7e296a144d3c3952f96bd51e6af3579362f88bc1ef18de38b03cebb2688f2d2b107"),
            ("9d686c4bc5998a711b16385732bae815db8ceac2d6dbbeced034402b70e00557", "a8c5a0c37d5d784ca3cb5b694a4eef2682274825c3c3241a61b7f5657d11780936fc83c33dfd4fe4"),
            ("eee7f84b5e13d35f617e380401437812c8c26c73a9ed5661d8f9209217688395", "3dfee1d2a35dd6b22a2f2ed69ba2c9e71d34805fa3fc4f77cb5a8b0a2fc169e91dd37cf0d3090733"),
            ("35109dfcd2b84e6d6513462f42d4e2fc0cfc91b4", "452cff34eb8612119778da5923615a0a1d76ce3c272750134dcd023d0fdb097ecff0e1ee62ac9a27"),
            ("ffffffffffffffffffffffffffffffffffffffff", "5fbeb8b5483c00077c1499b3327531ee3a1275ef8e46b8ee527ac557ee5607bc936d085bbd7f7015"),
            ("", "8212d55513689b6dd9016ee258fc1871adb81b0f4ba2a7f31cf313bffafe67f7b8be84a7d0ad93d8"),
            ("05", "682a0e104b1a687672a11858ac4f5c28e0f85be8a947455d1ee9940507a11f1e70f30a84c7133e94"),
            (concat!(
                "a6bd53517d9c160e7668b9b0eed31f255ce86c870b1d7847427d7342961613d445b9b0e8ee825b536e7bee13e4f74afb",
                "2fb7fd1a0755eb86ae8c3c5f6ecad8c0",
            ), "9d1ba442f91e43dd9433bf71bcd5b4e3b997510771f44d9b65f3a65a6d89a323c5be4cb0cebc1510"),
        ],
    };

    /// Key made by our `generate`; libgcrypt's `gcry_pk_testkey` accepted it,
    /// libotr loaded it from a key file and made these signatures with it.
    const K2: Vectors = Vectors {
        p: concat!(
            "b6fb4ea223b324d4dbbf990d2713de49b703d1a3b4e9154b59a59815e12759c7dd14bb2fe04352b72a01c72760214f3d",
            "552eadd3d4369279cbb1423e7c8dbecb8710eddd094cdad6bcade36080f529e6a85820ea8ba27ad89f645a0b0d0fcbe8",
            "77e55f6c800917933f443e6b8ff3a804d62fa83a06a9ae6e92606c6b957f73fd",
        ),
        q: "eef03b6e54ec0af6cb5e449f2a2e88b3f0ca27f1",
        g: concat!(
            "15a4c3e8a8d2e83b85640893edd6e8fc6492d86818b67c4c3d4a9d6f75da85f6a387386e2902ad05f93a565545b41e53",
            "cbc47f1490c2829786886af41d8de8f29785a35795704f296d69bf02412a748f5bcc2e2d0d559c1b6f19291dd746df30",
            "baed2f3d3da71773ebc33c824b58e00eb0ac9ae280d71e01c5a6a03319789443",
        ),
        y: concat!(
            "5961d396fee178446e748bfaa9426d7c54ed1576c607731e9272339c4b59d9729cd2f5a08db0a1c4a62145adc8c1d8db",
            "89ee8486c935923d952a2ad761b975ac9fc781ee30a3bd3f5e88bb0df7265fb9225c1db5b9ef0255dcb7c8ac7b902f5e",
            "f793b16bb12096a802e536fa65d8c792f4a854146bbb363122d90465767ff948",
        ),
        x: "cf6c0450f048932e4ecb3d34f7783824b3f7d366",
        pubkey_data: concat!(
            "00000080b6fb4ea223b324d4dbbf990d2713de49b703d1a3b4e9154b59a59815e12759c7dd14bb2fe04352b72a01c727",
            "60214f3d552eadd3d4369279cbb1423e7c8dbecb8710eddd094cdad6bcade36080f529e6a85820ea8ba27ad89f645a0b",
            "0d0fcbe877e55f6c800917933f443e6b8ff3a804d62fa83a06a9ae6e92606c6b957f73fd00000014eef03b6e54ec0af6",
            "cb5e449f2a2e88b3f0ca27f10000008015a4c3e8a8d2e83b85640893edd6e8fc6492d86818b67c4c3d4a9d6f75da85f6",
            "a387386e2902ad05f93a565545b41e53cbc47f1490c2829786886af41d8de8f29785a35795704f296d69bf02412a748f",
            "5bcc2e2d0d559c1b6f19291dd746df30baed2f3d3da71773ebc33c824b58e00eb0ac9ae280d71e01c5a6a03319789443",
            "000000805961d396fee178446e748bfaa9426d7c54ed1576c607731e9272339c4b59d9729cd2f5a08db0a1c4a62145ad",
            "c8c1d8db89ee8486c935923d952a2ad761b975ac9fc781ee30a3bd3f5e88bb0df7265fb9225c1db5b9ef0255dcb7c8ac",
            "7b902f5ef793b16bb12096a802e536fa65d8c792f4a854146bbb363122d90465767ff948",
        ),
        fp: "2f32ef939c8828dcece703aa1efd37015b8690af",
        human: "2F32EF93 9C8828DC ECE703AA 1EFD3701 5B8690AF",
        sigs: &[
            ("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "79e5968b0b75568edfbf04f836ad3657a86ff5945f5b5f1491fb6bd055c10e4f271b27d883e8eb5d"),
            ("8d8f2885f159f10eaaf9a42e8f9e8b4913092e03b0d1a231245f85f78d0edb40", "52920ea771deb92510db315af3bb0b039e518df04b7f04e79e0c41734d6c77d0d62fe76b1a796957"),
            ("901d53815a008735b7cd3a19a13885494f5b14d2a790cf78f5a0d40d74af9dfd", "3e1a4b100a0da05b0be46c33ff698072127fae7230b5f661a4c26f561e7568b97bb72ad5fa8fedce"),
            ("4d3329cf52953e5973874f08415376348c236c4b", "a17fdf8085cdd35254527413be6f944a6f7d094f111e9ba4ed17c910558fadaf3f3a0031e89eb93c"),
            ("ffffffffffffffffffffffffffffffffffffffff", "109e556ab991660bf16735aea78b09b4f3ac6f65c58b302fb03b2065a65bd601e068f219785ef666"),
            ("", "70205af995cef0ecd0dd0d61379da92ecf32b28173bd59988401c526fcb7ac576cd83d6ca7e148b6"),
            ("05", "9fbd28edf3a48be5cfb0ede3eb2971d0676e45d83a850d7ad71644b918e16ffcdcc6e609253592f2"),
            (concat!(
                "dea7d9292fb3d5370780cc3c62acbc13a7abaae59bc6cc43f2d78276962b428d95535a31a2d183480aeb98e201c5fe5c",
                "f96f6e19f2b96a52ff15f513d4eaba23",
            ), "d893e970b6fdc89a2d64d5748137adb597e5189a35154864fbb798ce3b116f25860d7134f9b6c820"),
        ],
    };

    /// Signatures made by our `sign` with K1 that libotr's
    /// `otrl_privkey_verify` accepted (returned 0).
    const OURS_ACCEPTED_BY_LIBOTR: &[(&str, &str)] = &[
        (
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "10da4ef88f1223e74894ca302eb63e015217e2ed679876d562261c3c0e243f876e146b7f16bf7432",
        ),
        (
            "000000",
            "8283d80d0b13155755db1389bab87113f566229b4f69e0f69f0295a01ec7e3d0a768032a9535ed1c",
        ),
        (
            "",
            "087c8ac896c7ab17897d225126d826521e30b67d6d9844bbf566e3c3a0d1f940a457ceeee145a032",
        ),
        (
            // 64 bytes of 0xab.
            concat!(
                "abababababababababababababababababababababababababababababababab",
                "abababababababababababababababababababababababababababababababab",
            ),
            "62740cb3e1f84e02e16f092f5f5d937c819a965003806938c40dfcbd0e6613220f4e550ceac82d4a",
        ),
    ];

    #[test]
    fn encodings_match_libotr() {
        for v in [&K1, &K2] {
            let key = v.key();
            let mut wire = vec![0, 0];
            wire.extend(unhex(v.pubkey_data));
            assert_eq!(tohex(&key.public().serialize()), tohex(&wire));
            assert_eq!(tohex(&key.public().fingerprint()), v.fp);
            assert_eq!(hash_to_human(&key.public().fingerprint()), v.human);
            assert_eq!(tohex(&key.p()), v.p);
            assert_eq!(tohex(&key.q()), v.q);
            assert_eq!(tohex(&key.g()), v.g);
            assert_eq!(tohex(&key.y()), v.y);
            assert_eq!(tohex(&key.x()), v.x);
            let (parsed, used) = DsaPublicKey::parse(&wire).unwrap();
            assert_eq!(used, wire.len());
            assert_eq!(&parsed, key.public());
        }
    }

    #[test]
    fn hash_to_human_format() {
        let fp: [u8; 20] = unhex("982e239a66dc4243c6e6d68b729754e771135a5f")
            .try_into()
            .unwrap();
        assert_eq!(
            hash_to_human(&fp),
            "982E239A 66DC4243 C6E6D68B 729754E7 71135A5F"
        );
        assert_eq!(hash_to_human(&[0u8; 20]).len(), 44);
    }

    #[test]
    fn verifies_libotr_signatures() {
        for v in [&K1, &K2] {
            let key = v.key();
            let q = BoxedUint::from_be_slice_vartime(&unhex(v.q));
            let mut big = 0;
            for (data, sig) in v.sigs {
                let (data, sig) = (unhex(data), unhex(sig));
                assert!(key.public().verify(&sig, &data), "{}", tohex(&data));
                assert_eq!(key.public().verify_libotr(&sig, &data), Ok(()));
                if !data.is_empty()
                    && BoxedUint::from_be_slice_vartime(&data)
                        .cmp_vartime(&q)
                        .is_ge()
                {
                    big += 1;
                }
            }
            assert!(big >= 3, "need several data values >= q");
        }
    }

    /// libgcrypt reduces the data mod q; a FIPS-style leftmost-160-bit
    /// truncation would not verify libotr's signature over 32 bytes of 0xff.
    #[test]
    fn data_is_reduced_mod_q_not_truncated() {
        let key = K1.key();
        let (data, sig) = K1.sigs[0];
        let (data, sig) = (unhex(data), unhex(sig));
        assert_eq!(data, [0xff; 32]);
        assert!(key.public().verify(&sig, &data));
        let q = NonZero::new(BoxedUint::from_be_slice_vartime(&unhex(K1.q))).unwrap();
        let reduced = minimal_be(&BoxedUint::from_be_slice_vartime(&data).rem_vartime(&q));
        assert!(key.public().verify(&sig, &reduced));
        assert!(!key.public().verify(&sig, &data[..20]));
    }

    #[test]
    fn our_signatures_that_libotr_accepted() {
        let key = K1.key();
        for (data, sig) in OURS_ACCEPTED_BY_LIBOTR {
            assert!(key.public().verify(&unhex(sig), &unhex(data)));
        }
    }

    #[test]
    fn sign_verify_round_trip() {
        let key = K1.key();
        for data in [
            &[][..],
            &[0u8],
            &[0xff; 20],
            &[0xff; 32],
            &[0x42; 32],
            &[0x99; 100],
        ] {
            let sig = key.sign(data).unwrap();
            assert!(key.public().verify(&sig, data));
            let mut other = data.to_vec();
            other.push(1);
            assert!(!key.public().verify(&sig, &other));
        }
        // Equal mod q means the same signed value.
        let q = unhex(K1.q);
        let mut q_plus_5 = q.clone();
        *q_plus_5.last_mut().unwrap() += 5;
        let sig = key.sign(&[5]).unwrap();
        assert!(key.public().verify(&sig, &q_plus_5));
        assert!(!K2.key().public().verify(&sig, &[5]));
    }

    #[test]
    fn verify_rejects_bad_signatures() {
        let key = K1.key();
        let public = key.public();
        let data = [0x17u8; 32];
        let sig = key.sign(&data).unwrap();
        assert!(public.verify(&sig, &data));
        for bit in [0, 7, 100, 159, 160, 200, 319] {
            let mut bad = sig;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(!public.verify(&bad, &data), "bit {bit}");
        }
        let bad_sig = OtrError::gcrypt(code::BAD_SIGNATURE);
        let q = unhex(K1.q);
        let mut r0 = sig;
        r0[..20].fill(0);
        assert_eq!(public.verify_libotr(&r0, &data), Err(bad_sig));
        let mut s0 = sig;
        s0[20..].fill(0);
        assert_eq!(public.verify_libotr(&s0, &data), Err(bad_sig));
        let mut s_q = sig;
        s_q[20..].copy_from_slice(&q);
        assert_eq!(public.verify_libotr(&s_q, &data), Err(bad_sig));
        let mut r_q = sig;
        r_q[..20].copy_from_slice(&q);
        assert!(!public.verify(&r_q, &data));
        let mut max = sig;
        max[20..].fill(0xff);
        assert!(!public.verify(&max, &data));
        for len in [0, 20, 39, 41, 42] {
            let mut odd = sig.to_vec();
            odd.resize(len, 0);
            assert_eq!(
                public.verify_libotr(&odd, &data),
                Err(OtrError::libotr(code::INV_VALUE))
            );
        }
    }

    #[test]
    fn parse_is_exact_and_strict() {
        let key = K1.key();
        let wire = key.public().serialize();
        let mut longer = wire.clone();
        longer.extend_from_slice(b"trailing");
        let (parsed, used) = DsaPublicKey::parse(&longer).unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(parsed.serialize(), wire);
        let inv = Err(OtrError::libotr(code::INV_VALUE));
        for cut in [0, 1, 2, 5, 6, 140, wire.len() - 1] {
            assert_eq!(
                DsaPublicKey::parse(&wire[..cut]).map(|_| ()),
                inv,
                "cut {cut}"
            );
        }
        let mut typed = wire.clone();
        typed[1] = 1;
        assert_eq!(DsaPublicKey::parse(&typed).map(|_| ()), inv);

        // A 4097-bit p is refused; 4096 bits is allowed.
        let mut huge = vec![0, 0, 0, 0, 2, 1];
        huge.extend(vec![0u8; 512]);
        huge.extend([0, 0, 0, 1, 3, 0, 0, 0, 1, 2, 0, 0, 0, 1, 2]);
        assert_eq!(DsaPublicKey::parse(&huge).map(|_| ()), inv);
        let mut max = vec![0, 0, 0, 0, 2, 0];
        max.extend(vec![0xffu8; 512]);
        max.extend([0, 0, 0, 1, 3, 0, 0, 0, 1, 2, 0, 0, 0, 1, 2]);
        assert!(DsaPublicKey::parse(&max).is_ok());
    }

    /// libotr hashes and MACs a peer's key as received, so a non-minimal MPI
    /// (leading zero byte) must survive parsing.
    #[test]
    fn non_minimal_encoding_is_kept() {
        let key = K1.key();
        let minimal = key.public().serialize();
        // Re-encode q with a leading zero byte.
        let p_len = 4 + 128;
        let mut padded = minimal[..2 + p_len].to_vec();
        padded.extend_from_slice(&[0, 0, 0, 21, 0]);
        padded.extend_from_slice(&minimal[2 + p_len + 4..]);
        let (parsed, used) = DsaPublicKey::parse(&padded).unwrap();
        assert_eq!(used, padded.len());
        assert_eq!(parsed.serialize(), padded);
        let expected: [u8; 20] = Sha1::digest(&padded[2..]).into();
        assert_eq!(parsed.fingerprint(), expected);
        assert_ne!(parsed.fingerprint(), key.public().fingerprint());
        assert_eq!(parsed.q(), key.q());
        let (data, sig) = K1.sigs[1];
        assert!(parsed.verify(&unhex(sig), &unhex(data)));
    }

    #[test]
    fn degenerate_public_keys_verify_nothing() {
        let sig = [1u8; 40];
        let even_p = DsaPublicKey::from_components(&[0x10, 0], &[7], &[2], &[3]).unwrap();
        assert!(!even_p.verify(&sig, b"x"));
        let tiny = DsaPublicKey::from_components(&unhex(K1.p), &unhex(K1.q), &[2], &[5]).unwrap();
        assert!(!tiny.verify(&K1.key().sign(b"x").unwrap(), b"x"));
        let zero = DsaPublicKey::from_components(&[], &[], &[], &[]).unwrap();
        assert_eq!(zero.serialize(), [0u8; 18]);
        assert!(!zero.verify(&sig, b"x"));
    }

    #[test]
    fn from_components_validates() {
        let (p, q, g, y, x) = (
            unhex(K1.p),
            unhex(K1.q),
            unhex(K1.g),
            unhex(K1.y),
            unhex(K1.x),
        );
        let inv = Err(OtrError::libotr(code::INV_VALUE));
        let build = |p: &[u8], q: &[u8], g: &[u8], y: &[u8], x: &[u8]| {
            DsaPrivateKey::from_components(p, q, g, y, x).map(|_| ())
        };
        let padded = |v: &[u8]| [&[0u8, 0][..], v].concat();
        assert!(build(
            &padded(&p),
            &padded(&q),
            &padded(&g),
            &padded(&y),
            &padded(&x)
        )
        .is_ok());
        assert_eq!(build(&p, &q[1..], &g, &y, &x), inv, "q of 152 bits");
        assert_eq!(
            build(&p, &[&q[..], &[1]].concat(), &g, &y, &x),
            inv,
            "q of 168 bits"
        );
        assert_eq!(build(&p, &q, &g, &y, &[]), inv, "x = 0");
        assert_eq!(build(&p, &q, &g, &y, &q), inv, "x = q");
        assert_eq!(build(&p, &q, &[1], &y, &x), inv, "g = 1");
        assert_eq!(build(&p, &q, &p, &y, &x), inv, "g = p");
        assert_eq!(build(&p, &q, &g, &[], &x), inv, "y = 0");
        assert_eq!(build(&p, &q, &g, &p, &x), inv, "y = p");
        let mut even = p.clone();
        *even.last_mut().unwrap() ^= 1;
        assert_eq!(build(&even, &q, &g, &y, &x), inv, "even p");
        let mut big = vec![0x80u8; 385];
        big[384] = 1;
        assert_eq!(build(&big, &q, &g, &y, &x), inv, "p of 3080 bits");
        // y is not required to be g^x, as in libotr.
        assert!(build(&p, &q, &g, &[5], &x).is_ok());
    }

    #[test]
    fn generated_key_is_well_formed() {
        let key = DsaPrivateKey::generate();
        let p = BoxedUint::from_be_slice_vartime(&key.p());
        let q = BoxedUint::from_be_slice_vartime(&key.q());
        let g = BoxedUint::from_be_slice_vartime(&key.g());
        let y = BoxedUint::from_be_slice_vartime(&key.y());
        let x = BoxedUint::from_be_slice_vartime(&key.x());
        assert_eq!(p.bit_width_vartime(), 1024);
        assert_eq!(q.bit_width_vartime(), 160);
        assert!(crypto_primes::is_prime(crypto_primes::Flavor::Any, &p));
        assert!(crypto_primes::is_prime(crypto_primes::Flavor::Any, &q));
        let q_nz = NonZero::new((&q).resize(1024)).unwrap();
        assert!(bool::from(
            p.wrapping_sub(BoxedUint::one())
                .rem_vartime(&q_nz)
                .is_zero()
        ));
        let params = BoxedMontyParams::new_vartime(Odd::new(p.clone()).unwrap());
        let gm = BoxedMontyForm::new(g.resize(1024), &params);
        assert_ne!(gm, BoxedMontyForm::one(&params));
        assert_eq!(gm.pow(&q), BoxedMontyForm::one(&params));
        assert_eq!(gm.pow(&x).retrieve(), y.resize(1024));
        assert!(bool::from(x.is_nonzero()) && x.resize(q.bits_precision()) < q);
        let sig = key.sign(&[0xee; 32]).unwrap();
        assert!(key.public().verify(&sig, &[0xee; 32]));
        assert_eq!(key.public().serialize()[..6], [0, 0, 0, 0, 0, 0x80]);
    }

    #[test]
    fn small_number_helpers() {
        assert_eq!(
            residue(&[0x01, 0x00, 0x00, 0x00, 0x00], 7),
            ((1u64 << 32) % 7) as u32
        );
        assert_eq!(
            residue(&[0xff; 9], 65521),
            (u128::from_be_bytes([
                0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ]) % 65521) as u32
        );
        assert_eq!(small_inverse(3, 7), 5);
        assert_eq!(sieve_primes()[..5], [3, 5, 7, 11, 13]);
        assert_eq!(*sieve_primes().last().unwrap(), 65521);
    }

    /// Writes a fresh key as a libotr key file, for feeding to libotr by hand.
    #[test]
    #[ignore]
    fn print_generated_key_file() {
        let g = DsaPrivateKey::generate();
        println!(
            "(privkeys (account (name a) (protocol p) (private-key (dsa (p #00{}#) (q #00{}#) (g #00{}#) (y #00{}#) (x #00{}#)))))",
            tohex(&g.p()),
            tohex(&g.q()),
            tohex(&g.g()),
            tohex(&g.y()),
            tohex(&g.x())
        );
    }

    /// Release-mode timings: `cargo test --release -p otr-core dsa::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        use std::time::Instant;
        let mut gen_ms = Vec::new();
        let mut key = None;
        for _ in 0..30 {
            let t = Instant::now();
            key = Some(DsaPrivateKey::generate());
            gen_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        gen_ms.sort_by(f64::total_cmp);
        let key = key.unwrap();
        let data = [0xa5u8; 32];
        let n = 500;
        let t = Instant::now();
        let mut sig = [0u8; 40];
        for _ in 0..n {
            sig = key.sign(&data).unwrap();
        }
        let sign_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        let t = Instant::now();
        for _ in 0..n {
            assert!(key.public().verify(&sig, &data));
        }
        let verify_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        println!(
            "generate: min {:.1} ms, median {:.1} ms, max {:.1} ms; sign {sign_us:.0} us; verify {verify_us:.0} us",
            gen_ms[0],
            gen_ms[gen_ms.len() / 2],
            gen_ms[gen_ms.len() - 1]
        );
    }
}
