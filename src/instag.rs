//! `instag.h`: instance tags, one per account, kept in the user state.

use core::ffi::{c_char, c_uint};

/// An instance tag.
pub type otrl_instag_t = c_uint;

pub const OTRL_INSTAG_MASTER: otrl_instag_t = 0;
pub const OTRL_INSTAG_BEST: otrl_instag_t = 1;
pub const OTRL_INSTAG_RECENT: otrl_instag_t = 2;
pub const OTRL_INSTAG_RECENT_RECEIVED: otrl_instag_t = 3;
pub const OTRL_INSTAG_RECENT_SENT: otrl_instag_t = 4;
pub const OTRL_MIN_VALID_INSTAG: otrl_instag_t = 0x100;

/// Our instance tag for one account, in `us->instag_root`.
#[repr(C)]
pub struct s_OtrlInsTag {
    pub next: *mut s_OtrlInsTag,
    pub tous: *mut *mut s_OtrlInsTag,
    pub accountname: *mut c_char,
    pub protocol: *mut c_char,
    pub instag: otrl_instag_t,
}

/// The libotr name of [`s_OtrlInsTag`].
pub type OtrlInsTag = s_OtrlInsTag;

use core::ptr::null_mut;

use otr_core::store::instags;

use crate::ffi::{
    bytes, calloc, free, guard, malloc_cstring, read_stream, read_text_path, replace_path,
    write_stream,
};
use crate::gcry::{error_from_errno, gcry_error_t};
use crate::userstate::OtrlUserState;

/// Unlinks and frees one instance tag.
///
/// # Safety
/// `instag` is NULL or a valid, linked tag of a user state.
#[no_mangle]
pub unsafe extern "C" fn otrl_instag_forget(instag: *mut OtrlInsTag) {
    // SAFETY: per the contract; the list links are well formed.
    unsafe {
        if instag.is_null() {
            return;
        }
        crate::list::unlink(instag);
        free((*instag).accountname);
        free((*instag).protocol);
        free(instag);
    }
}

/// Forgets every instance tag of the user state.
///
/// # Safety
/// `us` is NULL or a valid user state.
#[no_mangle]
pub unsafe extern "C" fn otrl_instag_forget_all(us: OtrlUserState) {
    // SAFETY: per the contract.
    unsafe {
        if us.is_null() {
            return;
        }
        while !(*us).instag_root.is_null() {
            otrl_instag_forget((*us).instag_root);
        }
    }
}

/// The instance tag of (accountname, protocol), or NULL.
///
/// # Safety
/// `us` is NULL or a valid user state; the strings are NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_instag_find(
    us: OtrlUserState,
    accountname: *const c_char,
    protocol: *const c_char,
) -> *mut OtrlInsTag {
    // SAFETY: per the contract.
    unsafe {
        let (Some(u), Some(acct), Some(proto)) = (us.as_ref(), bytes(accountname), bytes(protocol))
        else {
            return null_mut();
        };
        let mut cur = u.instag_root;
        while let Some(t) = cur.as_ref() {
            if bytes(t.accountname) == Some(acct) && bytes(t.protocol) == Some(proto) {
                return cur;
            }
            cur = t.next;
        }
        null_mut()
    }
}

/// Adds a tag at the head of the user state's list; false if out of memory.
///
/// # Safety
/// `us` is a valid user state.
unsafe fn push_instag(us: OtrlUserState, acct: &[u8], proto: &[u8], tag: u32) -> bool {
    let t = calloc::<OtrlInsTag>();
    let a = malloc_cstring(acct);
    let p = malloc_cstring(proto);
    // SAFETY: fresh allocations; us's list head is updated with back-links.
    unsafe {
        if t.is_null() || a.is_null() || p.is_null() {
            free(t);
            free(a);
            free(p);
            return false;
        }
        (*t).accountname = a;
        (*t).protocol = p;
        (*t).instag = tag;
        crate::list::insert(&raw mut (*us).instag_root, t);
    }
    true
}

/// Loads instance tags from the contents of a file into the user state.
///
/// # Safety
/// `us` is a valid user state.
unsafe fn load_instags(us: OtrlUserState, data: &[u8]) -> gcry_error_t {
    let entries = match instags::parse(data) {
        Ok(e) => e,
        Err(e) => return crate::gcry::error_value(e),
    };
    // Each line goes to the head of the list, duplicates included, so the
    // list ends up in reverse file order and the last line wins in find.
    for e in &entries {
        // SAFETY: u is a valid user state.
        if !unsafe { push_instag(us, &e.accountname, &e.protocol, e.instag) } {
            return error_from_errno(libc::ENOMEM);
        }
    }
    0
}

/// Reads instance tags from the named file into the user state.
///
/// A missing file gives `gcry_error_from_errno(ENOENT)` (0x01008051).
///
/// # Safety
/// `us` is NULL or a valid user state; `filename` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_instag_read(
    us: OtrlUserState,
    filename: *const c_char,
) -> gcry_error_t {
    guard(error_from_errno(libc::EFAULT), || {
        // SAFETY: per the contract.
        let Some(name) = (unsafe { bytes(filename) }) else {
            return error_from_errno(libc::EFAULT);
        };
        if us.is_null() {
            return error_from_errno(libc::EFAULT);
        }
        match read_text_path(name) {
            // SAFETY: us is valid.
            Ok(data) => unsafe { load_instags(us, &data) },
            Err(e) => e,
        }
    })
}

/// Reads instance tags from an open stream; a NULL stream reads nothing.
///
/// # Safety
/// `us` is NULL or a valid user state; `instf` is NULL or a readable stream.
#[no_mangle]
pub unsafe extern "C" fn otrl_instag_read_FILEp(
    us: OtrlUserState,
    instf: *mut libc::FILE,
) -> gcry_error_t {
    guard(error_from_errno(libc::EFAULT), || {
        if instf.is_null() || us.is_null() {
            return 0;
        }
        // SAFETY: instf is a valid stream; us is valid.
        unsafe {
            match read_stream(instf) {
                Ok(data) => load_instags(us, &data),
                Err(e) => e,
            }
        }
    })
}

/// A fresh random instance tag (never below 0x100).
#[no_mangle]
pub extern "C" fn otrl_instag_get_new() -> otrl_instag_t {
    guard(OTRL_MIN_VALID_INSTAG, instags::new_instag)
}

/// The instance tag file's contents for the user state.
///
/// # Safety
/// `us` is a valid user state.
unsafe fn instag_file(us: &crate::userstate::s_OtrlUserState) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut cur = us.instag_root;
    // SAFETY: the list is well formed.
    unsafe {
        while let Some(t) = cur.as_ref() {
            entries.push((
                bytes(t.accountname).unwrap_or_default(),
                bytes(t.protocol).unwrap_or_default(),
                t.instag,
            ));
            cur = t.next;
        }
    }
    instags::write(entries)
}

/// Gives (accountname, protocol) a new instance tag at the head of the list.
///
/// # Safety
/// `us` is a valid user state; the strings are NULL or NUL-terminated.
unsafe fn generate_into(
    us: OtrlUserState,
    accountname: *const c_char,
    protocol: *const c_char,
) -> Option<gcry_error_t> {
    // SAFETY: per the contract.
    unsafe {
        let (Some(acct), Some(proto)) = (bytes(accountname), bytes(protocol)) else {
            return Some(0);
        };
        // An older tag of the account stays in the list (and the file)
        // behind the new one, as in 4.1.1; lookups find the new one first.
        let tag = instags::new_instag();
        if !push_instag(us, acct, proto, tag) {
            return Some(error_from_errno(libc::ENOMEM));
        }
    }
    None
}

/// Generates an instance tag for the account (an older one is kept behind
/// it, as in 4.1.1) and writes all tags to the named file (replaced atomically when it is a regular file; /dev/null and
/// other special files are written in place).
///
/// # Safety
/// `us` is NULL or a valid user state; the strings are NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_instag_generate(
    us: OtrlUserState,
    filename: *const c_char,
    accountname: *const c_char,
    protocol: *const c_char,
) -> gcry_error_t {
    guard(error_from_errno(libc::EFAULT), || {
        // SAFETY: per the contract.
        let Some(name) = (unsafe { bytes(filename) }) else {
            return error_from_errno(libc::EFAULT);
        };
        if us.is_null() {
            return error_from_errno(libc::EFAULT);
        }
        // SAFETY: us is valid.
        unsafe {
            if let Some(done) = generate_into(us, accountname, protocol) {
                return done;
            }
            match replace_path(name, &instag_file(&*us), false) {
                Ok(()) => 0,
                Err(e) => e,
            }
        }
    })
}

/// Generates an instance tag for the account and writes all tags to an
/// open stream.
///
/// # Safety
/// `us` is NULL or a valid user state; `instf` is NULL or writable; the
/// strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_instag_generate_FILEp(
    us: OtrlUserState,
    instf: *mut libc::FILE,
    accountname: *const c_char,
    protocol: *const c_char,
) -> gcry_error_t {
    guard(error_from_errno(libc::EFAULT), || {
        if us.is_null() {
            return error_from_errno(libc::EFAULT);
        }
        // SAFETY: us is valid; instf is NULL or writable.
        unsafe {
            if let Some(done) = generate_into(us, accountname, protocol) {
                return done;
            }
            if instf.is_null() {
                return 0;
            }
            write_stream(instf, &instag_file(&*us)).err().unwrap_or(0)
        }
    })
}

/// Writes all instance tags to the named file (atomically for a regular
/// file).
///
/// # Safety
/// `us` is NULL or a valid user state; `filename` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_instag_write(
    us: OtrlUserState,
    filename: *const c_char,
) -> gcry_error_t {
    guard(error_from_errno(libc::EFAULT), || {
        // SAFETY: per the contract.
        let (Some(u), Some(name)) = (unsafe { us.as_ref() }, unsafe { bytes(filename) }) else {
            return error_from_errno(libc::EFAULT);
        };
        // SAFETY: u is valid.
        match replace_path(name, &unsafe { instag_file(u) }, false) {
            Ok(()) => 0,
            Err(e) => e,
        }
    })
}

/// Writes all instance tags to an open stream.
///
/// # Safety
/// `us` is NULL or a valid user state; `instf` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_instag_write_FILEp(
    us: OtrlUserState,
    instf: *mut libc::FILE,
) -> gcry_error_t {
    guard(error_from_errno(libc::EFAULT), || {
        // SAFETY: per the contract.
        let Some(u) = (unsafe { us.as_ref() }) else {
            return error_from_errno(libc::EFAULT);
        };
        if instf.is_null() {
            return 0;
        }
        // SAFETY: u is valid; instf is writable.
        unsafe { write_stream(instf, &instag_file(u)).err().unwrap_or(0) }
    })
}
