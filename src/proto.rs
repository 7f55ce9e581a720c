//! `proto.h`: policies, message types, and library initialisation.

use core::ffi::c_uint;

/// A bit set of `OTRL_POLICY_*` values.
pub type OtrlPolicy = c_uint;

pub const OTRL_MSGFLAGS_IGNORE_UNREADABLE: c_uint = 0x01;

pub const OTRL_POLICY_ALLOW_V1: OtrlPolicy = 0x01;
pub const OTRL_POLICY_ALLOW_V2: OtrlPolicy = 0x02;
pub const OTRL_POLICY_ALLOW_V3: OtrlPolicy = 0x04;
pub const OTRL_POLICY_REQUIRE_ENCRYPTION: OtrlPolicy = 0x08;
pub const OTRL_POLICY_SEND_WHITESPACE_TAG: OtrlPolicy = 0x10;
pub const OTRL_POLICY_WHITESPACE_START_AKE: OtrlPolicy = 0x20;
pub const OTRL_POLICY_ERROR_START_AKE: OtrlPolicy = 0x40;
pub const OTRL_POLICY_VERSION_MASK: OtrlPolicy =
    OTRL_POLICY_ALLOW_V1 | OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3;
pub const OTRL_HEADER_LEN: c_uint = 3;
pub const OTRL_B64_HEADER_LEN: c_uint = 4;
pub const OTRL_POLICY_NEVER: OtrlPolicy = 0x00;
pub const OTRL_POLICY_OPPORTUNISTIC: OtrlPolicy = OTRL_POLICY_ALLOW_V2
    | OTRL_POLICY_ALLOW_V3
    | OTRL_POLICY_SEND_WHITESPACE_TAG
    | OTRL_POLICY_WHITESPACE_START_AKE
    | OTRL_POLICY_ERROR_START_AKE;
pub const OTRL_POLICY_MANUAL: OtrlPolicy = OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3;
pub const OTRL_POLICY_ALWAYS: OtrlPolicy = OTRL_POLICY_ALLOW_V2
    | OTRL_POLICY_ALLOW_V3
    | OTRL_POLICY_REQUIRE_ENCRYPTION
    | OTRL_POLICY_WHITESPACE_START_AKE
    | OTRL_POLICY_ERROR_START_AKE;
pub const OTRL_POLICY_DEFAULT: OtrlPolicy = OTRL_POLICY_OPPORTUNISTIC;

/// What kind of OTR message a string is.
pub type OtrlMessageType = c_uint;

/// Values of [`OtrlMessageType`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OtrlMessageTypeValues {
    OTRL_MSGTYPE_NOTOTR = 0,
    OTRL_MSGTYPE_TAGGEDPLAINTEXT = 1,
    OTRL_MSGTYPE_QUERY = 2,
    OTRL_MSGTYPE_DH_COMMIT = 3,
    OTRL_MSGTYPE_DH_KEY = 4,
    OTRL_MSGTYPE_REVEALSIG = 5,
    OTRL_MSGTYPE_SIGNATURE = 6,
    OTRL_MSGTYPE_V1_KEYEXCH = 7,
    OTRL_MSGTYPE_DATA = 8,
    OTRL_MSGTYPE_ERROR = 9,
    OTRL_MSGTYPE_UNKNOWN = 10,
}

/// The outcome of feeding one piece to the fragment reassembler.
pub type OtrlFragmentResult = c_uint;

/// Values of [`OtrlFragmentResult`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OtrlFragmentResultValues {
    OTRL_FRAGMENT_UNFRAGMENTED = 0,
    OTRL_FRAGMENT_INCOMPLETE = 1,
    OTRL_FRAGMENT_COMPLETE = 2,
}

/// Which fragments `otrl_message_sending` injects itself.
pub type OtrlFragmentPolicy = c_uint;

/// Values of [`OtrlFragmentPolicy`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OtrlFragmentPolicyValues {
    OTRL_FRAGMENT_SEND_SKIP = 0,
    OTRL_FRAGMENT_SEND_ALL = 1,
    OTRL_FRAGMENT_SEND_ALL_BUT_FIRST = 2,
    OTRL_FRAGMENT_SEND_ALL_BUT_LAST = 3,
}

use core::ffi::c_char;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::gcry::gcry_error_t;
use crate::version::{OTRL_VERSION_MAJOR, OTRL_VERSION_MINOR};

/// The lowest API version (`major << 16 | minor << 8 | sub`) any caller of
/// [`otrl_init`] was built against; 0 before the first call. Exported as data,
/// as 4.1.1 does (an `unsigned int`; the atomic has the same layout).
#[no_mangle]
pub static otrl_api_version: AtomicU32 = AtomicU32::new(0);

/// Initialises the library for a caller built against libotr
/// `ver_major.ver_minor.ver_sub`.
///
/// Returns 0 for callers built against 4.0 or 4.1, and
/// `gcry_error(GPG_ERR_INV_VALUE)` (with a message on stderr) for another
/// major version or a newer minor one, as upstream 4.1.1 does. (Debian's
/// build of 4.1.1 accepts every version; see the README.) It may be called
/// any number of times, from any thread.
#[no_mangle]
pub extern "C" fn otrl_init(ver_major: c_uint, ver_minor: c_uint, ver_sub: c_uint) -> gcry_error_t {
    if ver_major != OTRL_VERSION_MAJOR || ver_minor > OTRL_VERSION_MINOR {
        eprintln!(
            "Expected libotr API version {ver_major}.{ver_minor}.{ver_sub} incompatible with actual version {}.{}.{}.  Aborting.",
            OTRL_VERSION_MAJOR,
            OTRL_VERSION_MINOR,
            crate::version::OTRL_VERSION_SUB
        );
        return otr_core::error::OtrError::libotr(otr_core::error::code::INV_VALUE).value();
    }
    let this = (ver_major << 16) | (ver_minor.min(0xff) << 8) | ver_sub.min(0xff);
    let _ = otrl_api_version.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
        (cur == 0 || this < cur).then_some(this)
    });
    0
}

/// The version string of the libotr API implemented: "4.1.1".
#[no_mangle]
pub extern "C" fn otrl_version() -> *const c_char {
    c"4.1.1".as_ptr()
}


use core::ffi::{c_int, c_uchar};

use otr_core::wire;

use crate::ffi::{bytes, guard, malloc_cstring};

/// The default query message for `ourname`: the `?OTRv23?`-style tag for
/// the versions `policy` allows, then upstream 4.1.1's explanation for
/// people without OTR. Malloc'd; free with `free()` or
/// `otrl_message_free`. Debian's build adds a sentence recommending the
/// pidgin-otr package; libotr-rs sends upstream's text.
///
/// # Safety
/// `ourname` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_proto_default_query_msg(
    ourname: *const c_char,
    policy: OtrlPolicy,
) -> *mut c_char {
    guard(core::ptr::null_mut(), || {
        // SAFETY: per the contract.
        let name = unsafe { bytes(ourname) }.unwrap_or_default();
        malloc_cstring(&wire::default_query_msg(name, policy))
    })
}

/// The best protocol version both a query message and `policy` allow (3,
/// 2, or 0 for none).
///
/// # Safety
/// `querymsg` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_proto_query_bestversion(
    querymsg: *const c_char,
    policy: OtrlPolicy,
) -> c_uint {
    // SAFETY: per the contract.
    let Some(q) = (unsafe { bytes(querymsg) }) else {
        return 0;
    };
    guard(0, || wire::query_bestversion(q, policy))
}

/// The best version offered by a message's whitespace tag and `policy`;
/// `*starttagp` and `*endtagp` point at the tag in `msg` (NULL when there
/// is none).
///
/// # Safety
/// `msg` is NUL-terminated; the out-pointers are writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_proto_whitespace_bestversion(
    msg: *const c_char,
    starttagp: *mut *const c_char,
    endtagp: *mut *const c_char,
    policy: OtrlPolicy,
) -> c_uint {
    guard(0, || {
        // SAFETY: per the contract; the offsets are within msg.
        unsafe {
            let Some(m) = bytes(msg) else { return 0 };
            let (best, span) = wire::whitespace_bestversion(m, policy);
            let (s, e) = match span {
                Some((s, e)) => (msg.add(s), msg.add(e)),
                None => (core::ptr::null(), core::ptr::null()),
            };
            if let Some(p) = starttagp.as_mut() {
                *p = s;
            }
            if let Some(p) = endtagp.as_mut() {
                *p = e;
            }
            best
        }
    })
}

/// What kind of OTR message `message` is (from its header only).
///
/// # Safety
/// `message` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_proto_message_type(message: *const c_char) -> OtrlMessageType {
    // SAFETY: per the contract.
    let Some(m) = (unsafe { bytes(message) }) else {
        return OtrlMessageTypeValues::OTRL_MSGTYPE_NOTOTR as c_uint;
    };
    guard(
        OtrlMessageTypeValues::OTRL_MSGTYPE_UNKNOWN as c_uint,
        || wire::message_type(m) as c_uint,
    )
}

/// The protocol version of an OTR message (3, 2, 1, or 0).
///
/// # Safety
/// `message` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_proto_message_version(message: *const c_char) -> c_int {
    // SAFETY: per the contract.
    let Some(m) = (unsafe { bytes(message) }) else {
        return 0;
    };
    guard(0, || wire::message_version(m))
}

/// The sender and receiver instance tags of a v3 message or fragment.
///
/// # Safety
/// `otrmsg` is NUL-terminated; the out-pointers are writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_proto_instance(
    otrmsg: *const c_char,
    instance_from: *mut c_uint,
    instance_to: *mut c_uint,
) -> gcry_error_t {
    let inval = otr_core::error::OtrError::libotr(otr_core::error::code::INV_VALUE).value();
    guard(inval, || {
        // SAFETY: per the contract.
        unsafe {
            let Some(m) = bytes(otrmsg) else { return inval };
            match wire::instance_tags(m) {
                Ok((from, to)) => {
                    if let Some(p) = instance_from.as_mut() {
                        *p = from;
                    }
                    if let Some(p) = instance_to.as_mut() {
                        *p = to;
                    }
                    0
                }
                Err(e) => {
                    if let (Some(s), Some(p)) = (e.sender, instance_from.as_mut()) {
                        *p = s;
                    }
                    e.error().value()
                }
            }
        }
    })
}

/// The flags byte of a data message, without decrypting it.
///
/// # Safety
/// `datamsg` is NUL-terminated; `flagsp` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_proto_data_read_flags(
    datamsg: *const c_char,
    flagsp: *mut c_uchar,
) -> gcry_error_t {
    let inval = otr_core::error::OtrError::libotr(otr_core::error::code::INV_VALUE).value();
    guard(inval, || {
        // SAFETY: per the contract.
        unsafe {
            let Some(m) = bytes(datamsg) else {
                return inval;
            };
            match wire::data_read_flags(m) {
                Ok(f) => {
                    if let Some(p) = flagsp.as_mut() {
                        *p = f;
                    }
                    0
                }
                Err(e) => e.value(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_accepts_4_0_and_4_1_and_refuses_others() {
        assert_eq!(otrl_init(4, 0, 0), 0);
        assert_eq!(otrl_init(4, 1, 1), 0);
        assert_eq!(otrl_init(4, 2, 0), 0x2000_0037);
        assert_eq!(otrl_init(5, 0, 0), 0x2000_0037);
        assert_eq!(otrl_init(3, 2, 0), 0x2000_0037);
        assert_eq!(otrl_api_version.load(Ordering::SeqCst), 0x0004_0000);
    }

    #[test]
    fn init_is_safe_from_many_threads() {
        let threads: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..100).all(|_| otrl_init(4, 1, 1) == 0)))
            .collect();
        assert!(threads.into_iter().all(|t| t.join().unwrap()));
    }
}
