//! The libgcrypt names that libotr's structs and prototypes carry.
//!
//! The library does not use libgcrypt: these are the C spellings only. The
//! headers get the real typedefs from `<gcrypt.h>` (cbindgen skips these), so
//! an application that links libgcrypt sees the same types as with 4.1.1.
#![allow(non_camel_case_types)]

use core::ffi::{c_uint, c_void};

/// `gcry_error_t`: libgpg-error's packed source and code.
pub type gcry_error_t = c_uint;
/// `gcry_mpi_t`: an opaque pointer slot (ours, never libgcrypt's).
pub type gcry_mpi_t = *mut c_void;
/// `gcry_sexp_t`: an opaque pointer slot.
pub type gcry_sexp_t = *mut c_void;
/// `gcry_cipher_hd_t`: an opaque pointer slot.
pub type gcry_cipher_hd_t = *mut c_void;
/// `gcry_md_hd_t`: an opaque pointer slot.
pub type gcry_md_hd_t = *mut c_void;

/// Packs an engine error into the `gcry_error_t` number libotr would return.
pub fn error_value(e: otr_core::error::OtrError) -> gcry_error_t {
    e.value()
}

/// `gcry_error_from_errno(errno)` as libgcrypt computes it (source GCRYPT).
pub fn error_from_errno(errno: i32) -> gcry_error_t {
    const GCRYPT: u32 = 1 << 24;
    const SYSTEM_ERROR: u32 = 0x8000;
    const UNKNOWN_ERRNO: u32 = 16382;
    if errno == 0 {
        return 0;
    }
    match usize::try_from(errno)
        .ok()
        .and_then(|i| ERRNO_TO_GPG.get(i))
    {
        Some(&code) if code != NONE => GCRYPT | SYSTEM_ERROR | u32::from(code),
        _ => GCRYPT | UNKNOWN_ERRNO,
    }
}

const NONE: u16 = 0xffff;

/// libgpg-error's system-error index for each Linux x86_64 errno value.
///
/// libgpg-error numbers system errors in its own table (GPG_ERR_ENOENT is
/// 0x8000|81 while Linux ENOENT is 2) and applications compare the packed
/// numbers, so the mapping is spelled out. Measured with
/// `gpg_err_code_from_errno` on Debian bookworm.
#[rustfmt::skip]
static ERRNO_TO_GPG: [u16; 126] = [
    65535, 107, 81, 127, 47, 49, 104, 0, 82, 11, 21, 6,
    86, 1, 36, 95, 19, 35, 139, 80, 97, 51, 48, 75,
    65, 102, 134, 37, 91, 126, 122, 66, 109, 32, 117, 28,
    69, 83, 94, 98, 63, 65535, 87, 43, 22, 54, 55, 56,
    62, 136, 78, 53, 10, 14, 140, 76, 16, 17, 65535, 18,
    93, 79, 131, 92, 88, 89, 119, 84, 4, 128, 23, 114,
    68, 33, 13, 106, 103, 12, 118, 57, 58, 61, 60, 59,
    45, 121, 130, 137, 100, 30, 67, 116, 90, 115, 125, 101,
    108, 5, 2, 3, 72, 74, 73, 24, 26, 77, 50, 96,
    124, 133, 132, 25, 41, 42, 7, 46, 129, 135, 99, 70,
    52, 120, 34, 85, 64, 20,
];

/// The DSA public key inside a libgcrypt S-expression made by the caller.
///
/// The library does not link libgcrypt; when the process has it loaded, the
/// expression is printed in canonical form through it (see
/// [`crate::libgcrypt`]), which the engine's own parser reads. None when
/// libgcrypt is absent, `pubs` is NULL, or no DSA key is inside.
///
/// # Safety
/// `pubs` is NULL or a live libgcrypt S-expression.
pub unsafe fn public_key_of(pubs: gcry_sexp_t) -> Option<otr_core::crypto::dsa::DsaPublicKey> {
    use otr_core::store::sexp;
    if pubs.is_null() {
        return None;
    }
    // SAFETY: pubs is a live S-expression of the process's libgcrypt.
    let text = unsafe { crate::libgcrypt::get()?.sexp_canonical(pubs)? };
    let parsed = sexp::parse(&text).ok()?;
    let dsa = parsed.find_token(b"dsa")?;
    let get = |name: &[u8]| {
        dsa.find_token(name)
            .and_then(|l| l.nth_data(1))
            .map(<[u8]>::to_vec)
    };
    otr_core::crypto::dsa::DsaPublicKey::from_components(
        &get(b"p")?,
        &get(b"q")?,
        &get(b"g")?,
        &get(b"y")?,
    )
    .ok()
}

// ---------------------------------------------------------------------------
// libotr-rs's own objects behind the `gcry_mpi_t`, `gcry_cipher_hd_t` and
// `gcry_md_hd_t` slots of libotr's structs.
//
// Each object is boxed and starts with a per-type tag, so that a slot that
// does not hold one of ours (NULL, or a pointer some application stored
// there) is never taken for one: the accessors return None and the free
// functions leave it alone. Secrets are wiped when an object is freed.

use zeroize::Zeroizing;

/// Tag of an [`Mpi`] ("otrmpi\0\x01").
const MPI_TAG: u64 = 0x6f74_726d_7069_0001;
/// Tag of a [`CipherKey`] ("otrciph\x01").
const CIPHER_TAG: u64 = 0x6f74_7263_6970_6801;
/// Tag of a [`MacKey`] ("otrmac\0\x01").
const MAC_TAG: u64 = 0x6f74_726d_6163_0001;

/// A non-negative number in a `gcry_mpi_t` slot: D-H private exponents and
/// public values. `bytes` is big-endian; public values are kept minimal,
/// private exponents at the width they were made with (40 bytes).
#[repr(C)]
pub struct Mpi {
    tag: u64,
    /// The number, big-endian, wiped on free.
    pub bytes: Zeroizing<Vec<u8>>,
}

/// An AES-128 key in counter mode in a `gcry_cipher_hd_t` slot (the D-H
/// session keys and the AKE's c and c' keys). Wiped on free.
#[repr(C)]
pub struct CipherKey {
    tag: u64,
    /// The AES-128 key.
    pub key: Zeroizing<[u8; 16]>,
}

/// Which hash an HMAC key in a `gcry_md_hd_t` slot goes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacAlgo {
    /// HMAC-SHA1: the MACs of data messages (`DH_sesskeys`).
    Sha1,
    /// HMAC-SHA256: the AKE's m1, m1', m2, m2'.
    Sha256,
}

/// An HMAC key in a `gcry_md_hd_t` slot. Wiped on free.
#[repr(C)]
pub struct MacKey {
    tag: u64,
    /// The hash of the HMAC.
    pub algo: MacAlgo,
    /// The HMAC key.
    pub key: Zeroizing<Vec<u8>>,
}

/// A new number object holding `bytes` (big-endian), for a `gcry_mpi_t`
/// slot.
pub fn mpi_new(bytes: &[u8]) -> gcry_mpi_t {
    Box::into_raw(Box::new(Mpi {
        tag: MPI_TAG,
        bytes: Zeroizing::new(bytes.to_vec()),
    }))
    .cast()
}

/// The number object in a slot, or None for NULL or anything not made by
/// [`mpi_new`].
///
/// # Safety
/// `p` is NULL or points to at least 8 readable bytes; if it is one of ours
/// it is alive for `'a` and not freed meanwhile.
pub unsafe fn mpi_ref<'a>(p: gcry_mpi_t) -> Option<&'a Mpi> {
    // SAFETY: per the contract the tag is readable; only a tagged object is
    // taken for an Mpi.
    unsafe {
        if p.is_null() || p.cast::<u64>().read_unaligned() != MPI_TAG {
            return None;
        }
        Some(&*p.cast::<Mpi>())
    }
}

/// Frees a number object (wiping it); NULL and foreign pointers are left
/// alone.
///
/// # Safety
/// As [`mpi_ref`]; `p` is not used afterwards.
pub unsafe fn mpi_free(p: gcry_mpi_t) {
    // SAFETY: per the contract; a tagged pointer came from Box::into_raw.
    unsafe {
        if mpi_ref(p).is_some() {
            drop(Box::from_raw(p.cast::<Mpi>()));
        }
    }
}

/// A copy of a number object (NULL for NULL or a foreign pointer).
///
/// # Safety
/// As [`mpi_ref`].
pub unsafe fn mpi_clone(p: gcry_mpi_t) -> gcry_mpi_t {
    // SAFETY: per the contract.
    match unsafe { mpi_ref(p) } {
        Some(m) => mpi_new(&m.bytes),
        None => core::ptr::null_mut(),
    }
}

/// A new AES-128-CTR key object for a `gcry_cipher_hd_t` slot.
pub fn cipher_new(key: &[u8; 16]) -> gcry_cipher_hd_t {
    Box::into_raw(Box::new(CipherKey {
        tag: CIPHER_TAG,
        key: Zeroizing::new(*key),
    }))
    .cast()
}

/// The cipher key object in a slot, or None for NULL or a foreign pointer.
///
/// # Safety
/// As [`mpi_ref`].
pub unsafe fn cipher_ref<'a>(p: gcry_cipher_hd_t) -> Option<&'a CipherKey> {
    // SAFETY: as in mpi_ref.
    unsafe {
        if p.is_null() || p.cast::<u64>().read_unaligned() != CIPHER_TAG {
            return None;
        }
        Some(&*p.cast::<CipherKey>())
    }
}

/// Frees a cipher key object (wiping it); NULL and foreign pointers are
/// left alone.
///
/// # Safety
/// As [`mpi_free`].
pub unsafe fn cipher_free(p: gcry_cipher_hd_t) {
    // SAFETY: per the contract; a tagged pointer came from Box::into_raw.
    unsafe {
        if cipher_ref(p).is_some() {
            drop(Box::from_raw(p.cast::<CipherKey>()));
        }
    }
}

/// A new HMAC key object for a `gcry_md_hd_t` slot.
pub fn mac_new(algo: MacAlgo, key: &[u8]) -> gcry_md_hd_t {
    Box::into_raw(Box::new(MacKey {
        tag: MAC_TAG,
        algo,
        key: Zeroizing::new(key.to_vec()),
    }))
    .cast()
}

/// The HMAC key object in a slot, or None for NULL or a foreign pointer.
///
/// # Safety
/// As [`mpi_ref`].
pub unsafe fn mac_ref<'a>(p: gcry_md_hd_t) -> Option<&'a MacKey> {
    // SAFETY: as in mpi_ref.
    unsafe {
        if p.is_null() || p.cast::<u64>().read_unaligned() != MAC_TAG {
            return None;
        }
        Some(&*p.cast::<MacKey>())
    }
}

/// Frees an HMAC key object (wiping it); NULL and foreign pointers are
/// left alone.
///
/// # Safety
/// As [`mpi_free`].
pub unsafe fn mac_free(p: gcry_md_hd_t) {
    // SAFETY: per the contract; a tagged pointer came from Box::into_raw.
    unsafe {
        if mac_ref(p).is_some() {
            drop(Box::from_raw(p.cast::<MacKey>()));
        }
    }
}
