//! The libgcrypt names that libotr's structs and prototypes carry.
//!
//! The library does not use libgcrypt: these are the C spellings only. The
//! headers get the real typedefs from `<gcrypt.h>` (cbindgen skips these), so
//! an application that links libgcrypt sees the same types as with 4.1.1.
#![allow(non_camel_case_types)]

use core::ffi::{c_int, c_uint, c_void};

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
/// The library does not link libgcrypt; when the process has it loaded,
/// `gcry_sexp_sprint` is looked up at run time and the expression printed in
/// canonical form, which the engine's own parser reads. None when libgcrypt
/// is absent, `pubs` is NULL, or no DSA key is inside.
///
/// # Safety
/// `pubs` is NULL or a live libgcrypt S-expression.
pub unsafe fn public_key_of(pubs: gcry_sexp_t) -> Option<otr_core::crypto::dsa::DsaPublicKey> {
    use otr_core::store::sexp;
    type Sprint = unsafe extern "C" fn(gcry_sexp_t, c_int, *mut c_void, usize) -> usize;
    const GCRYSEXP_FMT_CANON: c_int = 1;
    if pubs.is_null() {
        return None;
    }
    // SAFETY: dlsym with a NUL-terminated name; the result is NULL or the
    // address of libgcrypt's gcry_sexp_sprint, whose signature is Sprint.
    let sprint: Sprint = unsafe {
        let f = libc::dlsym(libc::RTLD_DEFAULT, c"gcry_sexp_sprint".as_ptr());
        if f.is_null() {
            return None;
        }
        core::mem::transmute::<*mut c_void, Sprint>(f)
    };
    // SAFETY: pubs is a libgcrypt S-expression per the caller; a NULL buffer
    // asks for the length, and the second call fills a buffer of that size.
    let text = unsafe {
        let n = sprint(pubs, GCRYSEXP_FMT_CANON, core::ptr::null_mut(), 0);
        if n == 0 {
            return None;
        }
        let mut buf = vec![0u8; n];
        let written = sprint(pubs, GCRYSEXP_FMT_CANON, buf.as_mut_ptr().cast(), n);
        buf.truncate(written);
        buf
    };
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
