//! `privkey-t.h`: private keys and pending key generations.

use core::ffi::{c_char, c_uchar, c_ushort};

use crate::gcry::gcry_sexp_t;

/// The public key type of DSA keys, the only type OTR uses.
pub const OTRL_PUBKEY_TYPE_DSA: c_ushort = 0x0000;

/// A private key in `us->privkey_root`.
#[repr(C)]
pub struct s_OtrlPrivKey {
    pub next: *mut s_OtrlPrivKey,
    pub tous: *mut *mut s_OtrlPrivKey,
    pub accountname: *mut c_char,
    pub protocol: *mut c_char,
    pub pubkey_type: c_ushort,
    /// `(private-key (dsa (p)(q)(g)(y)(x)))` as a genuine libgcrypt
    /// S-expression when the process has libgcrypt loaded, else NULL
    /// (4.1.1 always has one). Owned by the library.
    pub privkey: gcry_sexp_t,
    pub pubkey_data: *mut c_uchar,
    pub pubkey_datalen: usize,
}

/// The libotr name of [`s_OtrlPrivKey`].
pub type OtrlPrivKey = s_OtrlPrivKey;

/// A key generation started with `otrl_privkey_generate_start`.
#[repr(C)]
pub struct s_OtrlPendingPrivKey {
    pub next: *mut s_OtrlPendingPrivKey,
    pub tous: *mut *mut s_OtrlPendingPrivKey,
    pub accountname: *mut c_char,
    pub protocol: *mut c_char,
}

/// The libotr name of [`s_OtrlPendingPrivKey`].
pub type OtrlPendingPrivKey = s_OtrlPendingPrivKey;
