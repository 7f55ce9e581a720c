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
///
/// When the process has libgcrypt loaded, this runs its initialisation
/// (`gcry_check_version(NULL)`) as 4.1.1 does, for applications that use
/// libgcrypt without initialising it. Unlike 4.1.1 it does not install
/// libotr's allocation handlers into libgcrypt.
#[no_mangle]
pub extern "C" fn otrl_init(ver_major: c_uint, ver_minor: c_uint, ver_sub: c_uint) -> gcry_error_t {
    if ver_major != OTRL_VERSION_MAJOR || ver_minor > OTRL_VERSION_MINOR {
        // A closed stderr must not become a panic inside C's call.
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!(
                "Expected libotr API version {ver_major}.{ver_minor}.{ver_sub} incompatible with actual version {}.{}.{}.  Aborting.\n",
                OTRL_VERSION_MAJOR,
                OTRL_VERSION_MINOR,
                crate::version::OTRL_VERSION_SUB
            ),
        );
        return otr_core::error::OtrError::libotr(otr_core::error::code::INV_VALUE).value();
    }
    // 4.1.1 initialises libgcrypt here; applications such as Psi's plugin
    // use libgcrypt afterwards without initialising it themselves.
    if let Some(g) = crate::libgcrypt::get() {
        g.initialise();
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

use core::ffi::{c_int, c_uchar, c_ushort};

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

/// Encrypts `msg` plus `tlvs` as a data message of `context`'s session
/// (the building block of `otrl_message_sending`); `*encmessagep` gets the
/// malloc'd `?OTR:` text, `extrakey` (if not NULL) the 32-byte extra
/// symmetric key of the keys used.
///
/// # Safety
/// `encmessagep` is writable; `context` is a live context; `msg` is
/// NUL-terminated; `tlvs` is NULL or a valid list; `extrakey` is NULL or
/// has room for 32 bytes.
#[no_mangle]
pub unsafe extern "C" fn otrl_proto_create_data(
    encmessagep: *mut *mut c_char,
    context: *mut crate::context::ConnContext,
    msg: *const c_char,
    tlvs: *const crate::tlv::OtrlTLV,
    flags: c_uchar,
    extrakey: *mut c_uchar,
) -> gcry_error_t {
    let inval = otr_core::error::OtrError::libotr(otr_core::error::code::INV_VALUE).value();
    guard(inval, || {
        // SAFETY: per the contract.
        unsafe {
            let (Some(out), Some(text), false) =
                (encmessagep.as_mut(), bytes(msg), context.is_null())
            else {
                return inval;
            };
            match crate::message::create_data(context, text, tlvs, flags) {
                Ok((m, key)) => {
                    *out = malloc_cstring(&m);
                    if !extrakey.is_null() {
                        core::ptr::copy_nonoverlapping(key.as_ptr(), extrakey, key.len());
                    }
                    0
                }
                Err(e) => e,
            }
        }
    })
}

/// Decrypts a data message of `context`'s session: `*plaintextp` gets the
/// malloc'd text, `*tlvsp` the TLVs, `*flagsp` the flags, `extrakey` the
/// extra symmetric key. Keys rotate as the message asks. Errors:
/// `GPG_ERR_INV_VALUE` for a malformed message, `GPG_ERR_CONFLICT` for one
/// that cannot be read (unknown keys, bad MAC, replay).
///
/// # Safety
/// `plaintextp` and `tlvsp` are writable; `context` is live; `datamsg` is
/// NUL-terminated; `flagsp` is NULL or writable; `extrakey` is NULL or has
/// room for 32 bytes.
#[no_mangle]
pub unsafe extern "C" fn otrl_proto_accept_data(
    plaintextp: *mut *mut c_char,
    tlvsp: *mut *mut crate::tlv::OtrlTLV,
    context: *mut crate::context::ConnContext,
    datamsg: *const c_char,
    flagsp: *mut c_uchar,
    extrakey: *mut c_uchar,
) -> gcry_error_t {
    let inval = otr_core::error::OtrError::libotr(otr_core::error::code::INV_VALUE).value();
    guard(inval, || {
        // SAFETY: per the contract.
        unsafe {
            let (Some(out), Some(text), false) =
                (plaintextp.as_mut(), bytes(datamsg), context.is_null())
            else {
                return inval;
            };
            *out = core::ptr::null_mut();
            if let Some(t) = tlvsp.as_mut() {
                *t = core::ptr::null_mut();
            }
            match crate::message::accept_data(context, text) {
                Ok(got) => {
                    if let Some(f) = flagsp.as_mut() {
                        *f = got.flags;
                    }
                    if !extrakey.is_null() {
                        core::ptr::copy_nonoverlapping(got.extra_key.as_ptr(), extrakey, 32);
                    }
                    *out = malloc_cstring(got.text());
                    let list = crate::tlv::list_from(&otr_core::tlv::parse(got.tlvs()));
                    match tlvsp.as_mut() {
                        Some(t) => *t = list,
                        None => crate::tlv::otrl_tlv_free(list),
                    }
                    0
                }
                Err((flags, e)) => {
                    if let (Some(f), Some(v)) = (flagsp.as_mut(), flags) {
                        *f = v;
                    }
                    e
                }
            }
        }
    })
}

/// Feeds one received message to `context`'s fragment buffer. On
/// `OTRL_FRAGMENT_COMPLETE`, `*unfragmessagep` gets the malloc'd whole
/// message. The buffer is bounded (see the README).
///
/// # Safety
/// `unfragmessagep` is writable; `context` is live; `msg` is
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_proto_fragment_accumulate(
    unfragmessagep: *mut *mut c_char,
    context: *mut crate::context::ConnContext,
    msg: *const c_char,
) -> OtrlFragmentResult {
    let incomplete = OtrlFragmentResultValues::OTRL_FRAGMENT_INCOMPLETE as c_uint;
    guard(incomplete, || {
        // SAFETY: per the contract.
        unsafe {
            let (Some(out), Some(m), false) =
                (unfragmessagep.as_mut(), bytes(msg), context.is_null())
            else {
                return incomplete;
            };
            let s = crate::context_priv::session_of((*context).context_priv);
            match s.fragments.accumulate(m, None) {
                otr_core::fragment::Accumulate::Unfragmented => {
                    OtrlFragmentResultValues::OTRL_FRAGMENT_UNFRAGMENTED as c_uint
                }
                otr_core::fragment::Accumulate::Incomplete => incomplete,
                otr_core::fragment::Accumulate::Complete(whole) => {
                    *out = malloc_cstring(&whole);
                    OtrlFragmentResultValues::OTRL_FRAGMENT_COMPLETE as c_uint
                }
            }
        }
    })
}

/// Cuts `message` into `fragment_count` fragments for a network with
/// maximum message size `mms`, in the format of `context`'s protocol
/// version; `*fragments` gets a malloc'd array of malloc'd strings (free it
/// with [`otrl_proto_fragment_free`]).
///
/// # Safety
/// `fragments` is writable; `context` is live; `message` is
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_proto_fragment_create(
    mms: c_int,
    fragment_count: c_int,
    fragments: *mut *mut *mut c_char,
    context: *mut crate::context::ConnContext,
    message: *const c_char,
) -> gcry_error_t {
    let inval = otr_core::error::OtrError::libotr(otr_core::error::code::INV_VALUE).value();
    guard(inval, || {
        // SAFETY: per the contract; the array has one slot per fragment.
        unsafe {
            let (Some(out), Some(m), Some(c)) =
                (fragments.as_mut(), bytes(message), context.as_ref())
            else {
                return inval;
            };
            let fctx = otr_core::fragment::FragmentContext {
                protocol_version: c.protocol_version,
                auth_protocol_version: c.auth.protocol_version,
                our_instance: c.our_instance,
                their_instance: c.their_instance,
            };
            let pieces =
                match otr_core::fragment::proto_fragment_create(mms, fragment_count, &fctx, m) {
                    Ok(p) => p,
                    Err(e) => return e.value(),
                };
            let arr = libc::calloc(pieces.len(), core::mem::size_of::<*mut c_char>())
                .cast::<*mut c_char>();
            if arr.is_null() {
                return crate::gcry::error_from_errno(libc::ENOMEM);
            }
            for (i, p) in pieces.iter().enumerate() {
                *arr.add(i) = malloc_cstring(p);
            }
            *out = arr;
            0
        }
    })
}

/// Frees an array of `arraylen` fragments from [`otrl_proto_fragment_create`]
/// and sets `*fragments` to NULL.
///
/// # Safety
/// `fragments` is NULL or points to NULL or to such an array.
#[no_mangle]
pub unsafe extern "C" fn otrl_proto_fragment_free(
    fragments: *mut *mut *mut c_char,
    arraylen: c_ushort,
) {
    // SAFETY: per the contract.
    unsafe {
        let Some(slot) = fragments.as_mut() else {
            return;
        };
        let arr = *slot;
        if arr.is_null() {
            return;
        }
        for i in 0..usize::from(arraylen) {
            crate::ffi::free(*arr.add(i));
        }
        crate::ffi::free(arr);
        *slot = core::ptr::null_mut();
    }
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
