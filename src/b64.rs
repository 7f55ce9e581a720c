//! `b64.h`: base64 and the `?OTR:...` framing.

use core::ffi::c_uint;

pub const OTRL_B64_DECODED_LEN: c_uint = 3;
pub const OTRL_B64_ENCODED_LEN: c_uint = 4;

use core::ffi::{c_char, c_int, c_uchar};

use crate::ffi::{guard, malloc_copy, malloc_cstring};

/// Base64-encodes `datalen` bytes into `base64data` (no NUL is written) and
/// returns the number of characters written: `4 * ceil(datalen / 3)`.
///
/// # Safety
/// `data` is readable for `datalen` bytes; `base64data` has room for the
/// encoded length.
#[no_mangle]
pub unsafe extern "C" fn otrl_base64_encode(
    base64data: *mut c_char,
    data: *const c_uchar,
    datalen: usize,
) -> usize {
    guard(0, || {
        if base64data.is_null() || (data.is_null() && datalen != 0) {
            return 0;
        }
        // SAFETY: readable per the contract.
        let input = if datalen == 0 {
            &[][..]
        } else {
            unsafe { core::slice::from_raw_parts(data, datalen) }
        };
        let out = otr_core::wire::base64_encode(input);
        // SAFETY: the caller sized the buffer for the encoded length.
        unsafe { core::ptr::copy_nonoverlapping(out.as_ptr(), base64data.cast::<u8>(), out.len()) };
        out.len()
    })
}

/// Decodes base64 text into `data` and returns the number of bytes written;
/// characters outside the alphabet are skipped, as in 4.1.1.
///
/// # Safety
/// `base64data` is readable for `base64len` bytes; `data` has room for
/// `OTRL_B64_MAX_DECODED_SIZE(base64len)` bytes.
#[no_mangle]
pub unsafe extern "C" fn otrl_base64_decode(
    data: *mut c_uchar,
    base64data: *const c_char,
    base64len: usize,
) -> usize {
    guard(0, || {
        if data.is_null() || (base64data.is_null() && base64len != 0) {
            return 0;
        }
        // SAFETY: readable per the contract.
        let input = if base64len == 0 {
            &[][..]
        } else {
            unsafe { core::slice::from_raw_parts(base64data.cast::<u8>(), base64len) }
        };
        let out = otr_core::wire::base64_decode(input);
        // SAFETY: the caller sized the buffer for the maximum decoded size.
        unsafe { core::ptr::copy_nonoverlapping(out.as_ptr(), data, out.len()) };
        out.len()
    })
}

/// Frames a buffer as an OTR message: `"?OTR:" + base64 + "."`, malloc'd.
///
/// # Safety
/// `buf` is readable for `buflen` bytes.
#[no_mangle]
pub unsafe extern "C" fn otrl_base64_otr_encode(buf: *const c_uchar, buflen: usize) -> *mut c_char {
    guard(core::ptr::null_mut(), || {
        if buf.is_null() && buflen != 0 {
            return core::ptr::null_mut();
        }
        // SAFETY: readable per the contract.
        let input = if buflen == 0 {
            &[][..]
        } else {
            unsafe { core::slice::from_raw_parts(buf, buflen) }
        };
        malloc_cstring(&otr_core::wire::otr_encode(input))
    })
}

/// Decodes an `?OTR:...` message into a malloc'd buffer. Returns 0 on
/// success, -1 when the message has no `?OTR:` header, -2 when memory runs
/// out, as 4.1.1.
///
/// # Safety
/// `msg` is NUL-terminated; `bufp` and `lenp` are writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_base64_otr_decode(
    msg: *const c_char,
    bufp: *mut *mut c_uchar,
    lenp: *mut usize,
) -> c_int {
    guard(-2, || {
        // SAFETY: per the contract.
        let (Some(m), false, false) = (
            unsafe { crate::ffi::bytes(msg) },
            bufp.is_null(),
            lenp.is_null(),
        ) else {
            return -1;
        };
        match otr_core::wire::otr_decode(m) {
            Ok(decoded) => {
                let p = malloc_copy(&decoded);
                if p.is_null() {
                    return -2;
                }
                // SAFETY: writable per the contract.
                unsafe {
                    *bufp = p;
                    *lenp = decoded.len();
                }
                0
            }
            Err(code) => code,
        }
    })
}
