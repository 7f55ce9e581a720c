//! `mem.h`: memory helpers.

use core::ffi::{c_int, c_uchar};

use subtle::ConstantTimeEq;

/// Sets up memory handling. libotr-rs allocates with libc, wipes secrets
/// with `zeroize` and installs no libgcrypt allocation handlers, so there is
/// nothing to do; kept for callers of 4.1.1's API.
#[no_mangle]
pub extern "C" fn otrl_mem_init() {}

/// Compares two buffers in constant time: 0 if equal, 1 if they differ.
///
/// # Safety
/// Both buffers are readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn otrl_mem_differ(
    buf1: *const c_uchar,
    buf2: *const c_uchar,
    len: usize,
) -> c_int {
    if len == 0 {
        return 0;
    }
    if buf1.is_null() || buf2.is_null() {
        return c_int::from(buf1 != buf2);
    }
    // SAFETY: readable for len bytes per the contract.
    let (a, b) = unsafe {
        (
            core::slice::from_raw_parts(buf1, len),
            core::slice::from_raw_parts(buf2, len),
        )
    };
    c_int::from(!bool::from(a.ct_eq(b)))
}
