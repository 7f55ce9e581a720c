//! Errors as libotr 4.1.1 reports them.
//!
//! Applications compare libotr's `gcry_error_t` results as numbers, so an error
//! here is exactly a libgpg-error code plus the error source that libotr's call
//! would have stamped on it. The C layer only packs the two into one integer.

use core::fmt;

/// Where an error comes from, in libgpg-error's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorSource {
    /// Made inside libgcrypt (parsing, `gcry_error_from_errno`): source 1.
    Gcrypt,
    /// Made by libotr itself with `gcry_error(...)`: source 32 (USER_1).
    Libotr,
}

impl ErrorSource {
    /// The source number as libgpg-error encodes it.
    pub const fn number(self) -> u32 {
        match self {
            ErrorSource::Gcrypt => 1,
            ErrorSource::Libotr => 32,
        }
    }
}

/// A libgpg-error code with its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OtrError {
    pub source: ErrorSource,
    pub code: u16,
}

/// libgpg-error codes that libotr returns.
pub mod code {
    pub const GENERAL: u16 = 1;
    pub const BAD_SIGNATURE: u16 = 8;
    pub const NO_PUBKEY: u16 = 9;
    pub const INV_VALUE: u16 = 55;
    pub const UNUSABLE_SECKEY: u16 = 54;
    pub const NO_ERROR: u16 = 0;
    pub const CONFLICT: u16 = 70;
    pub const ENOMEM: u16 = 0x8000 | 86;
    pub const EEXIST: u16 = 0x8000 | 35;
    pub const ENOENT: u16 = 0x8000 | 81;
    pub const EINVAL: u16 = 0x8000 | 48;
    pub const EIO: u16 = 0x8000 | 49;
    pub const SEXP_INV_LEN_SPEC: u16 = 201;
    pub const SEXP_STRING_TOO_LONG: u16 = 202;
    pub const SEXP_UNMATCHED_PAREN: u16 = 203;
    pub const SEXP_NOT_CANONICAL: u16 = 204;
    pub const SEXP_BAD_CHARACTER: u16 = 205;
    pub const SEXP_BAD_QUOTATION: u16 = 206;
    pub const SEXP_ZERO_PREFIX: u16 = 207;
    pub const SEXP_NESTED_DH: u16 = 208;
    pub const SEXP_UNMATCHED_DH: u16 = 209;
    pub const SEXP_UNEXPECTED_PUNC: u16 = 210;
    pub const SEXP_BAD_HEX_CHAR: u16 = 211;
    pub const SEXP_ODD_HEX_NUMBERS: u16 = 212;
    pub const SEXP_BAD_OCT_CHAR: u16 = 213;
}

impl OtrError {
    /// An error libotr makes itself (`gcry_error(code)`).
    pub const fn libotr(code: u16) -> Self {
        OtrError {
            source: ErrorSource::Libotr,
            code,
        }
    }

    /// An error that carries libgcrypt's source (parser errors, errno errors).
    pub const fn gcrypt(code: u16) -> Self {
        OtrError {
            source: ErrorSource::Gcrypt,
            code,
        }
    }

    /// The 32-bit value of a `gcry_error_t`: source in bits 24..31, code below.
    pub const fn value(self) -> u32 {
        (self.source.number() << 24) | self.code as u32
    }
}

impl fmt::Display for OtrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "libgpg-error {:#010x}", self.value())
    }
}

impl std::error::Error for OtrError {}

/// Results of the engine.
pub type Result<T> = core::result::Result<T, OtrError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_libgcrypt_encoding() {
        assert_eq!(OtrError::gcrypt(code::ENOENT).value(), 0x0100_8051);
        assert_eq!(OtrError::libotr(code::EEXIST).value(), 0x2000_8023);
    }
}
