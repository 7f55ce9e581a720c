//! `privkey.h`: private keys, key generation, and the fingerprints file.

use core::ffi::{c_char, c_uchar, c_ushort, c_void};
use core::ptr::null_mut;
use std::os::unix::fs::OpenOptionsExt;

use otr_core::crypto::dsa::{hash_to_human, DsaPrivateKey};
use otr_core::error::{code, OtrError};
use otr_core::store::{fingerprints, privkeys, privkeys::StoredKey};

use crate::context::{
    otrl_context_find, otrl_context_find_fingerprint, otrl_context_set_trust, AddAppData,
    ConnContext,
};
use crate::ffi::{
    bytes, calloc, free, guard, io_error, malloc_copy, malloc_cstring, path_of, read_path,
    read_stream, replace_path, write_stream,
};
use crate::gcry::{error_from_errno, gcry_error_t, gcry_sexp_t};
use crate::instag::OTRL_INSTAG_MASTER;
use crate::privkey_t::{OtrlPendingPrivKey, OtrlPrivKey, OTRL_PUBKEY_TYPE_DSA};
use crate::userstate::{s_OtrlUserState, OtrlUserState};

/// Bytes of a human-readable fingerprint, with its terminating NUL.
pub const OTRL_PRIVKEY_FPRINT_HUMAN_LEN: usize = 45;

/// A private key as allocated here: the C-visible struct first (so a
/// pointer to the cell is a pointer to the `OtrlPrivKey`), then the key as
/// stored in the file.
#[repr(C)]
struct KeyCell {
    c: OtrlPrivKey,
    stored: StoredKey,
}

/// A key generation in progress: the `void *newkey` of the
/// `otrl_privkey_generate_*` calls. Only `calculate` writes `key`, so it may
/// run on another thread while the user state is in use.
struct PendingKey {
    accountname: Vec<u8>,
    protocol: Vec<u8>,
    key: Option<DsaPrivateKey>,
}

fn libotr_error(code: u16) -> gcry_error_t {
    OtrError::libotr(code).value()
}

/// Writes the 44-character form of a fingerprint ("XXXXXXXX XXXXXXXX ...")
/// and its NUL into `human`.
///
/// # Safety
/// `human` has room for 45 bytes; `hash` points to 20 bytes.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_hash_to_human(human: *mut c_char, hash: *const c_uchar) {
    guard((), || {
        if human.is_null() || hash.is_null() {
            return;
        }
        // SAFETY: sizes per the contract.
        unsafe {
            let h: &[u8; 20] = &*hash.cast::<[u8; 20]>();
            write_human(human, h);
        }
    })
}

/// # Safety
/// `human` has room for 45 bytes.
unsafe fn write_human(human: *mut c_char, hash: &[u8; 20]) {
    let text = hash_to_human(hash);
    // SAFETY: the text is 44 bytes; the NUL goes at index 44.
    unsafe {
        core::ptr::copy_nonoverlapping(text.as_ptr(), human.cast::<u8>(), text.len());
        *human.add(text.len()) = 0;
    }
}

/// Our fingerprint for the account in human form, written into
/// `fingerprint` and returned; NULL when the account has no key.
///
/// # Safety
/// `us` is NULL or valid; `fingerprint` has room for 45 bytes; the strings
/// are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_fingerprint(
    us: OtrlUserState,
    fingerprint: *mut c_char,
    accountname: *const c_char,
    protocol: *const c_char,
) -> *mut c_char {
    guard(null_mut(), || {
        let mut raw = [0u8; 20];
        // SAFETY: per the contract.
        unsafe {
            if fingerprint.is_null()
                || otrl_privkey_fingerprint_raw(us, raw.as_mut_ptr(), accountname, protocol)
                    .is_null()
            {
                return null_mut();
            }
            write_human(fingerprint, &raw);
        }
        fingerprint
    })
}

/// Our fingerprint for the account as 20 raw bytes (SHA-1 of the public key
/// data), written into `hash` and returned; NULL when there is no key.
///
/// # Safety
/// `us` is NULL or valid; `hash` has room for 20 bytes; the strings are NULL
/// or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_fingerprint_raw(
    us: OtrlUserState,
    hash: *mut c_uchar,
    accountname: *const c_char,
    protocol: *const c_char,
) -> *mut c_uchar {
    guard(null_mut(), || {
        // SAFETY: per the contract.
        unsafe {
            let key = otrl_privkey_find(us, accountname, protocol);
            let Some(k) = key.as_ref() else {
                return null_mut();
            };
            if hash.is_null() || k.pubkey_data.is_null() {
                return null_mut();
            }
            let data = core::slice::from_raw_parts(k.pubkey_data, k.pubkey_datalen);
            let fp = otr_core::crypto::sha1(data);
            core::ptr::copy_nonoverlapping(fp.as_ptr(), hash, 20);
        }
        hash
    })
}

/// Reads the private key file at `filename`, replacing every key of the
/// user state. A missing file gives `gcry_error_from_errno(ENOENT)`
/// (0x01008051), a NULL name `gcry_error_from_errno(EFAULT)`.
///
/// The file is read as [`otrl_privkey_read_FILEp`] reads a stream. Unlike
/// 4.1.1, a file that cannot be read or parsed leaves the keys already
/// loaded untouched (4.1.1 forgets them all, then loads the accounts before
/// the bad one).
///
/// # Safety
/// `us` is NULL or valid; `filename` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_read(
    us: OtrlUserState,
    filename: *const c_char,
) -> gcry_error_t {
    guard(error_from_errno(libc::EFAULT), || {
        if us.is_null() {
            return error_from_errno(libc::EFAULT);
        }
        if filename.is_null() {
            return error_from_errno(libc::EFAULT);
        }
        // SAFETY: filename is NUL-terminated; the mode is a C literal. The
        // stream is closed before returning.
        unsafe {
            let f = libc::fopen(filename, c"rb".as_ptr());
            if f.is_null() {
                return error_from_errno(errno());
            }
            let result = read_keys_from(us, f);
            libc::fclose(f);
            result
        }
    })
}

/// Reads a private key file from an open stream (see [`otrl_privkey_read`]).
/// A NULL stream reads nothing and returns 0.
///
/// As in 4.1.1, the file's size is taken from `fstat` and that many bytes
/// are read from the stream's current position: a stream not at its start,
/// or one that cannot be read, gives `gcry_error_from_errno(errno)`, and an
/// empty file (a pipe, a fresh file) reports the `errno` of the moment,
/// which is success with no keys when it is 0.
///
/// # Safety
/// `us` is NULL or valid; `privf` is NULL or an open stream.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_read_FILEp(
    us: OtrlUserState,
    privf: *mut libc::FILE,
) -> gcry_error_t {
    guard(error_from_errno(libc::EFAULT), || {
        if us.is_null() {
            return error_from_errno(libc::EFAULT);
        }
        if privf.is_null() {
            return 0;
        }
        // SAFETY: privf is an open stream.
        unsafe { read_keys_from(us, privf) }
    })
}

/// The calling thread's `errno`.
fn errno() -> i32 {
    // SAFETY: __errno_location returns the thread's errno cell.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's `errno`.
fn set_errno(value: i32) {
    // SAFETY: as in errno().
    unsafe { *libc::__errno_location() = value }
}

/// Reads a key file from `f` as 4.1.1 does: as many bytes as `fstat` gives
/// for its descriptor, from the current position. A short read (including
/// a size of 0) reports `errno`: what the failed read set, else what it was
/// on entry. When that is 0 the result is success with no keys.
///
/// # Safety
/// `f` is an open stream.
unsafe fn read_keys_from(us: OtrlUserState, f: *mut libc::FILE) -> gcry_error_t {
    let entry_errno = errno();
    // SAFETY: f is open; st is written by fstat before it is read.
    let size = unsafe {
        let mut st: libc::stat = core::mem::zeroed();
        if libc::fstat(libc::fileno(f), &mut st) != 0 {
            return error_from_errno(errno());
        }
        usize::try_from(st.st_size).unwrap_or(0)
    };
    let mut data = Vec::new();
    if data.try_reserve_exact(size).is_err() {
        return error_from_errno(libc::ENOMEM);
    }
    data.resize(size, 0);
    set_errno(entry_errno);
    let got = if size == 0 {
        0
    } else {
        // SAFETY: data is writable for size bytes; f is open.
        unsafe { libc::fread(data.as_mut_ptr().cast(), 1, size, f) }
    };
    if size == 0 || got != size {
        let err = error_from_errno(errno());
        if err == 0 {
            // SAFETY: us is valid.
            unsafe { otrl_privkey_forget_all(us) };
        }
        return err;
    }
    // SAFETY: us is valid.
    unsafe { load_keys(us, &data) }
}

/// Replaces the user state's keys with those of a key file's contents.
///
/// The list is reached through the raw pointer only: its links (`tous`)
/// were made in earlier calls, and a `&mut` to the user state held here
/// would let the compiler assume they cannot change `privkey_root`.
///
/// # Safety
/// `us` is a valid user state.
unsafe fn load_keys(us: OtrlUserState, data: &[u8]) -> gcry_error_t {
    let keys = match privkeys::parse_file(data) {
        Ok(k) => k,
        Err(e) => return e.value(),
    };
    let mut cells = Vec::with_capacity(keys.len());
    for stored in keys {
        match new_cell(stored) {
            Ok(cell) => cells.push(cell),
            Err(e) => {
                // SAFETY: the cells were made here and are not linked yet.
                cells.into_iter().for_each(|c| unsafe { free_cell(c) });
                return e;
            }
        }
    }
    // SAFETY: us is valid per the contract; every cell is fresh; the list
    // head is updated with back-links, through raw places only.
    unsafe {
        otrl_privkey_forget_all(us);
        // libotr puts each key it reads at the head of the list: file order
        // reversed, so the last of two entries for one account is found.
        for cell in cells {
            crate::list::insert(&raw mut (*us).privkey_root, cell);
        }
    }
    0
}

/// Allocates the C-visible key for a stored key.
fn new_cell(stored: StoredKey) -> Result<*mut OtrlPrivKey, gcry_error_t> {
    let public = stored.public_key().map_err(|e| e.value())?;
    let pubdata = public.serialize();
    let accountname = malloc_cstring(&stored.accountname);
    let protocol = malloc_cstring(&stored.protocol);
    let pubkey_data = malloc_copy(&pubdata[2..]);
    if accountname.is_null() || protocol.is_null() || pubkey_data.is_null() {
        // SAFETY: each is NULL or freshly malloc'd.
        unsafe {
            free(accountname);
            free(protocol);
            free(pubkey_data);
        }
        return Err(error_from_errno(libc::ENOMEM));
    }
    let cell = Box::new(KeyCell {
        c: OtrlPrivKey {
            next: null_mut(),
            tous: null_mut(),
            accountname,
            protocol,
            pubkey_type: OTRL_PUBKEY_TYPE_DSA,
            // A genuine gcry_sexp_t where the application has libgcrypt:
            // Psi prints it with gcry_sexp_sprint to save the key.
            privkey: crate::libgcrypt::get()
                .map_or(null_mut(), |g| g.sexp_new(&stored.private_key)),
            pubkey_data,
            pubkey_datalen: pubdata.len() - 2,
        },
        stored,
    });
    Ok(Box::into_raw(cell).cast::<OtrlPrivKey>())
}

/// Frees a key made by [`new_cell`] (not its list links).
///
/// # Safety
/// `p` came from [`new_cell`] and is not used afterwards.
unsafe fn free_cell(p: *mut OtrlPrivKey) {
    // SAFETY: p is the first field of a boxed KeyCell.
    unsafe {
        let cell = Box::from_raw(p.cast::<KeyCell>());
        if !cell.c.privkey.is_null() {
            // Only ever set when libgcrypt was found, which pins it loaded.
            if let Some(g) = crate::libgcrypt::get() {
                g.sexp_release(cell.c.privkey);
            }
        }
        free(cell.c.accountname);
        free(cell.c.protocol);
        free(cell.c.pubkey_data);
    }
}

/// The key cell behind a C key pointer.
///
/// # Safety
/// `p` is a key of a user state (made by this library).
unsafe fn cell<'a>(p: *const OtrlPrivKey) -> &'a KeyCell {
    // SAFETY: keys are only ever allocated as KeyCells.
    unsafe { &*p.cast::<KeyCell>() }
}

/// Forgets every pending key generation of the user state.
///
/// # Safety
/// `us` is NULL or a valid user state.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_pending_forget_all(us: OtrlUserState) {
    guard((), || {
        // SAFETY: per the contract.
        unsafe {
            if us.is_null() {
                return;
            }
            while !(*us).pending_root.is_null() {
                pending_forget((*us).pending_root);
            }
        }
    })
}

/// Unlinks and frees one pending entry.
///
/// # Safety
/// `p` is a valid, linked pending entry.
unsafe fn pending_forget(p: *mut OtrlPendingPrivKey) {
    // SAFETY: per the contract.
    unsafe {
        crate::list::unlink(p);
        free((*p).accountname);
        free((*p).protocol);
        free(p);
    }
}

/// The pending entry for (account, protocol), or NULL.
///
/// Takes the raw user state: callers go on to link or unlink entries, which
/// writes the list head through the entries' `tous`.
///
/// # Safety
/// `us` is a valid user state.
unsafe fn pending_find(us: OtrlUserState, acct: &[u8], proto: &[u8]) -> *mut OtrlPendingPrivKey {
    // SAFETY: us is valid per the contract; the list is well formed.
    unsafe {
        let mut cur = (*us).pending_root;
        while !cur.is_null() {
            if bytes((*cur).accountname) == Some(acct) && bytes((*cur).protocol) == Some(proto) {
                return cur;
            }
            cur = (*cur).next;
        }
    }
    null_mut()
}

/// Starts generating a key for the account: records it as pending and
/// hands back `*newkeyp` for [`otrl_privkey_generate_calculate`]. Returns
/// `gcry_error(GPG_ERR_EEXIST)` (0x20008023) if one is already pending.
///
/// # Safety
/// `us` is NULL or valid; the strings are NULL or NUL-terminated;
/// `newkeyp` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_generate_start(
    us: OtrlUserState,
    accountname: *const c_char,
    protocol: *const c_char,
    newkeyp: *mut *mut c_void,
) -> gcry_error_t {
    guard(error_from_errno(libc::ENOMEM), || {
        // SAFETY: per the contract.
        unsafe {
            if let Some(p) = newkeyp.as_mut() {
                *p = null_mut();
            }
            let (false, Some(acct), Some(proto)) =
                (us.is_null(), bytes(accountname), bytes(protocol))
            else {
                return libotr_error(code::INV_VALUE);
            };
            if !pending_find(us, acct, proto).is_null() {
                return libotr_error(code::EEXIST);
            }
            let entry = calloc::<OtrlPendingPrivKey>();
            let a = malloc_cstring(acct);
            let p = malloc_cstring(proto);
            if entry.is_null() || a.is_null() || p.is_null() {
                free(entry);
                free(a);
                free(p);
                return error_from_errno(libc::ENOMEM);
            }
            (*entry).accountname = a;
            (*entry).protocol = p;
            crate::list::insert(&raw mut (*us).pending_root, entry);
            let pending = Box::new(PendingKey {
                accountname: acct.to_vec(),
                protocol: proto.to_vec(),
                key: None,
            });
            match newkeyp.as_mut() {
                Some(out) => *out = Box::into_raw(pending).cast(),
                None => pending_forget(entry),
            }
        }
        0
    })
}

/// Computes the key of a pending generation (the slow part, tens of
/// milliseconds). It touches nothing but `newkey`, so it may run on another
/// thread while the application keeps using the user state.
///
/// # Safety
/// `newkey` is NULL or from [`otrl_privkey_generate_start`], not finished
/// or cancelled, and not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_generate_calculate(newkey: *mut c_void) -> gcry_error_t {
    guard(libotr_error(code::GENERAL), || {
        // SAFETY: per the contract.
        let Some(p) = (unsafe { newkey.cast::<PendingKey>().as_mut() }) else {
            return libotr_error(code::INV_VALUE);
        };
        p.key = Some(DsaPrivateKey::generate());
        0
    })
}

/// Finishes a generation: writes all keys, the new one replacing any old
/// key of the account, to the named file (atomically; a new file is created
/// with mode 0600), loads them, and ends the pending state.
///
/// As in 4.1.1, when the file cannot be written (a NULL name gives
/// `gcry_error_from_errno(EFAULT)`) the error is returned and the
/// generation stays pending: `newkey` is still the caller's, for another
/// try or for [`otrl_privkey_generate_cancelled`].
///
/// A generation that was never calculated ends with
/// `GPG_ERR_UNUSABLE_SECKEY` (0x20000036), as in 4.1.1, but the file is not
/// touched (4.1.1 writes an unreadable entry for the account into it).
///
/// # Safety
/// `us` is NULL or valid; `newkey` is NULL or a generation of this user
/// state, not used afterwards unless the file could not be written;
/// `filename` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_generate_finish(
    us: OtrlUserState,
    newkey: *mut c_void,
    filename: *const c_char,
) -> gcry_error_t {
    guard(libotr_error(code::GENERAL), || {
        // SAFETY: per the contract.
        unsafe {
            let Some(name) = bytes(filename) else {
                return error_from_errno(libc::EFAULT);
            };
            finish_path(us, newkey, name).unwrap_or_else(|e| e)
        }
    })
}

/// [`otrl_privkey_generate_finish`] for a file name: `Ok` with the result
/// once the generation has ended, `Err` when the file could not be written
/// and the generation is still pending.
///
/// # Safety
/// As [`otrl_privkey_generate_finish`].
unsafe fn finish_path(
    us: OtrlUserState,
    newkey: *mut c_void,
    name: &[u8],
) -> Result<gcry_error_t, gcry_error_t> {
    open_for_writing(name)?;
    // SAFETY: per the contract.
    unsafe {
        let result = match finished_file(us, newkey) {
            Err(e) => e,
            // Only a null check on `us`: load_keys relinks its list.
            Ok(data) => match (replace_path(name, &data, true), us.is_null()) {
                (Err(e), _) => e,
                (Ok(()), false) => load_keys(us, &data),
                (Ok(()), true) => libotr_error(code::INV_VALUE),
            },
        };
        otrl_privkey_generate_cancelled(us, newkey);
        Ok(result)
    }
}

/// Opens the key file for writing as 4.1.1 does before it writes (creating
/// it with mode 0600 when missing), so that the same errors come first,
/// but without truncating it: the contents are replaced later, atomically.
fn open_for_writing(name: &[u8]) -> Result<(), gcry_error_t> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path_of(name))
        .map(drop)
        .map_err(|e| io_error(&e))
}

/// Finishes a generation onto an open stream (see
/// [`otrl_privkey_generate_finish`]), which must be open for reading and
/// writing: as 4.1.1 does, the keys are written at the stream's position,
/// then the stream is rewound and read back as by
/// [`otrl_privkey_read_FILEp`], whose result is returned (a write-only
/// stream gives `gcry_error_from_errno(EBADF)`). The generation always
/// ends; a NULL argument gives `GPG_ERR_INV_VALUE`.
///
/// # Safety
/// As [`otrl_privkey_generate_finish`]; `privf` is NULL or an open stream.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_generate_finish_FILEp(
    us: OtrlUserState,
    newkey: *mut c_void,
    privf: *mut libc::FILE,
) -> gcry_error_t {
    guard(libotr_error(code::GENERAL), || {
        // SAFETY: per the contract.
        unsafe {
            // Only a null check on `us`: reading the keys back relinks its list.
            let result = match (us.is_null(), privf.is_null(), finished_file(us, newkey)) {
                (true, _, _) | (_, true, _) => libotr_error(code::INV_VALUE),
                (_, _, Err(e)) => e,
                (false, false, Ok(data)) => {
                    let written = libc::fwrite(data.as_ptr().cast(), 1, data.len(), privf);
                    if written != data.len()
                        || libc::fflush(privf) != 0
                        || libc::fseek(privf, 0, libc::SEEK_SET) != 0
                    {
                        error_from_errno(errno())
                    } else {
                        read_keys_from(us, privf)
                    }
                }
            };
            otrl_privkey_generate_cancelled(us, newkey);
            result
        }
    })
}

/// The key file after a generation: every other key in list order, then the
/// new one. `GPG_ERR_INV_VALUE` without a user state or generation,
/// `GPG_ERR_UNUSABLE_SECKEY` when the generation has no key yet.
///
/// # Safety
/// `us` is NULL or valid; `newkey` is NULL or a live generation.
unsafe fn finished_file(us: OtrlUserState, newkey: *mut c_void) -> Result<Vec<u8>, gcry_error_t> {
    // SAFETY: per the contract.
    let (Some(u), Some(p)) = (unsafe { us.as_ref() }, unsafe {
        newkey.cast::<PendingKey>().as_ref()
    }) else {
        return Err(libotr_error(code::INV_VALUE));
    };
    let Some(key) = p.key.as_ref() else {
        return Err(libotr_error(code::UNUSABLE_SECKEY));
    };
    let new = privkeys::stored_from_key(&p.accountname, &p.protocol, key);
    let mut all: Vec<&StoredKey> = Vec::new();
    let mut cur = u.privkey_root;
    // SAFETY: the list is well formed and made of key cells.
    unsafe {
        while let Some(k) = cur.as_ref() {
            let c = cell(cur);
            if !(c.stored.accountname == p.accountname && c.stored.protocol == p.protocol) {
                all.push(&c.stored);
            }
            cur = k.next;
        }
    }
    all.push(&new);
    Ok(privkeys::write_file(&all))
}

/// Abandons a generation: ends its pending state and frees `newkey`.
///
/// # Safety
/// `us` is NULL or valid; `newkey` is NULL or from
/// [`otrl_privkey_generate_start`], not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_generate_cancelled(us: OtrlUserState, newkey: *mut c_void) {
    guard((), || {
        if newkey.is_null() {
            return;
        }
        // SAFETY: newkey is a boxed PendingKey per the contract.
        let p = unsafe { Box::from_raw(newkey.cast::<PendingKey>()) };
        if !us.is_null() {
            // SAFETY: us is valid; entry, if found, is linked in it.
            unsafe {
                let entry = pending_find(us, &p.accountname, &p.protocol);
                if !entry.is_null() {
                    pending_forget(entry);
                }
            }
        }
    })
}

/// Generates a key for the account and writes all keys to the named file
/// (start, calculate and finish in one call).
///
/// Errors are 4.1.1's: `gcry_error_from_errno(EFAULT)` for a NULL name,
/// `gcry_error(GPG_ERR_EEXIST)` while a generation for the account is
/// pending, the file's error when it cannot be written. Nothing is left
/// pending on failure. Unlike 4.1.1, which truncates the file before it
/// checks for a pending generation, a failure leaves the file as it was.
///
/// # Safety
/// As [`otrl_privkey_generate_start`] and [`otrl_privkey_generate_finish`].
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_generate(
    us: OtrlUserState,
    filename: *const c_char,
    accountname: *const c_char,
    protocol: *const c_char,
) -> gcry_error_t {
    // SAFETY: filename is NULL or NUL-terminated per the contract.
    let Some(name) = (unsafe { bytes(filename) }) else {
        return error_from_errno(libc::EFAULT);
    };
    // 4.1.1 opens the file first: its errors come before EEXIST.
    if let Err(e) = guard(Err(libotr_error(code::GENERAL)), || open_for_writing(name)) {
        return e;
    }
    let mut newkey = null_mut();
    // SAFETY: per the contract; newkey is ours until finished or cancelled.
    unsafe {
        let err = otrl_privkey_generate_start(us, accountname, protocol, &mut newkey);
        if newkey.is_null() {
            return err;
        }
        otrl_privkey_generate_calculate(newkey);
        guard(libotr_error(code::GENERAL), || {
            finish_path(us, newkey, name).unwrap_or_else(|e| {
                // The file was not written: end the generation here.
                otrl_privkey_generate_cancelled(us, newkey);
                e
            })
        })
    }
}

/// Generates a key for the account and writes all keys to an open stream,
/// which must be open for reading and writing (see
/// [`otrl_privkey_generate_finish_FILEp`]).
///
/// # Safety
/// As [`otrl_privkey_generate_start`] and
/// [`otrl_privkey_generate_finish_FILEp`].
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_generate_FILEp(
    us: OtrlUserState,
    privf: *mut libc::FILE,
    accountname: *const c_char,
    protocol: *const c_char,
) -> gcry_error_t {
    let mut newkey = null_mut();
    // SAFETY: per the contract.
    unsafe {
        let err = otrl_privkey_generate_start(us, accountname, protocol, &mut newkey);
        if newkey.is_null() {
            return err;
        }
        otrl_privkey_generate_calculate(newkey);
        otrl_privkey_generate_finish_FILEp(us, newkey, privf)
    }
}

/// Reads the fingerprints file at `filename` into the user state, creating
/// master contexts (with `add_app_data`) and fingerprints as needed.
///
/// # Safety
/// `us` is NULL or valid; `filename` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_read_fingerprints(
    us: OtrlUserState,
    filename: *const c_char,
    add_app_data: AddAppData,
    data: *mut c_void,
) -> gcry_error_t {
    guard(error_from_errno(libc::EFAULT), || {
        // SAFETY: per the contract.
        let Some(name) = (unsafe { bytes(filename) }) else {
            return error_from_errno(libc::EFAULT);
        };
        if us.is_null() {
            return error_from_errno(libc::EFAULT);
        }
        match read_path(name) {
            // SAFETY: us is valid.
            Ok(text) => unsafe { load_fingerprints(us, &text, add_app_data, data) },
            Err(e) => e,
        }
    })
}

/// Reads a fingerprints file from an open stream; NULL reads nothing.
///
/// # Safety
/// `us` is NULL or valid; `storef` is NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_read_fingerprints_FILEp(
    us: OtrlUserState,
    storef: *mut libc::FILE,
    add_app_data: AddAppData,
    data: *mut c_void,
) -> gcry_error_t {
    guard(error_from_errno(libc::EFAULT), || {
        if us.is_null() {
            return error_from_errno(libc::EFAULT);
        }
        if storef.is_null() {
            return 0;
        }
        // SAFETY: storef is readable; us is valid.
        unsafe {
            match read_stream(storef) {
                Ok(text) => load_fingerprints(us, &text, add_app_data, data),
                Err(e) => e,
            }
        }
    })
}

/// Adds every fingerprint line to the user state.
///
/// # Safety
/// `us` is a valid user state.
unsafe fn load_fingerprints(
    us: OtrlUserState,
    text: &[u8],
    add_app_data: AddAppData,
    data: *mut c_void,
) -> gcry_error_t {
    for line in fingerprints::parse(text) {
        let cstr = |b: &[u8]| {
            let mut v = b.to_vec();
            v.push(0);
            v
        };
        let (user, acct, proto) = (
            cstr(&line.username),
            cstr(&line.accountname),
            cstr(&line.protocol),
        );
        let mut fp = line.fingerprint;
        // SAFETY: the strings are NUL-terminated and alive for the calls;
        // the callbacks are the application's own.
        unsafe {
            let ctx: *mut ConnContext = otrl_context_find(
                us,
                user.as_ptr().cast(),
                acct.as_ptr().cast(),
                proto.as_ptr().cast(),
                OTRL_INSTAG_MASTER,
                1,
                null_mut(),
                add_app_data,
                data,
            );
            if ctx.is_null() {
                return error_from_errno(libc::ENOMEM);
            }
            let f = otrl_context_find_fingerprint(ctx, fp.as_mut_ptr(), 1, null_mut());
            if f.is_null() {
                return error_from_errno(libc::ENOMEM);
            }
            let trust = line.trust.map(|t| cstr(&t));
            otrl_context_set_trust(
                f,
                trust
                    .as_ref()
                    .map_or(core::ptr::null(), |t| t.as_ptr().cast()),
            );
        }
    }
    0
}

/// The fingerprints file for the user state: one line per fingerprint of
/// each master context, in list order.
fn fingerprints_file(us: &s_OtrlUserState) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ctx = us.context_root;
    // SAFETY: the lists are well formed.
    unsafe {
        while let Some(c) = ctx.as_ref() {
            if c.m_context == ctx {
                let mut f = c.fingerprint_root.next;
                while let Some(fp) = f.as_ref() {
                    if !fp.fingerprint.is_null() {
                        let hash = &*fp.fingerprint.cast::<[u8; 20]>();
                        fingerprints::write_line(
                            &mut out,
                            bytes(c.username).unwrap_or_default(),
                            bytes(c.accountname).unwrap_or_default(),
                            bytes(c.protocol).unwrap_or_default(),
                            hash,
                            bytes(fp.trust),
                        );
                    }
                    f = fp.next;
                }
            }
            ctx = c.next;
        }
    }
    out
}

/// Writes the fingerprints file at `filename` (replaced atomically; a new
/// file gets the mode `fopen` would give, an existing one keeps its mode):
/// one line per fingerprint of each master context, in list order.
///
/// Unlike 4.1.1, which does not check its writes, a failed write is
/// reported (`gcry_error_from_errno`, e.g. ENOSPC).
///
/// # Safety
/// `us` is NULL or valid; `filename` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_write_fingerprints(
    us: OtrlUserState,
    filename: *const c_char,
) -> gcry_error_t {
    guard(error_from_errno(libc::EFAULT), || {
        // SAFETY: per the contract.
        let (Some(u), Some(name)) = (unsafe { us.as_ref() }, unsafe { bytes(filename) }) else {
            return error_from_errno(libc::EFAULT);
        };
        replace_path(name, &fingerprints_file(u), false)
            .err()
            .unwrap_or(0)
    })
}

/// Writes the fingerprints file to an open stream (see
/// [`otrl_privkey_write_fingerprints`]); a NULL stream writes nothing and
/// returns 0.
///
/// # Safety
/// `us` is NULL or valid; `storef` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_write_fingerprints_FILEp(
    us: OtrlUserState,
    storef: *mut libc::FILE,
) -> gcry_error_t {
    guard(error_from_errno(libc::EFAULT), || {
        // SAFETY: per the contract.
        let Some(u) = (unsafe { us.as_ref() }) else {
            return error_from_errno(libc::EFAULT);
        };
        if storef.is_null() {
            return 0;
        }
        // SAFETY: storef is writable.
        unsafe { write_stream(storef, &fingerprints_file(u)) }
            .err()
            .unwrap_or(0)
    })
}

/// Our private key for the account, or NULL.
///
/// # Safety
/// `us` is NULL or valid; the strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_find(
    us: OtrlUserState,
    accountname: *const c_char,
    protocol: *const c_char,
) -> *mut OtrlPrivKey {
    guard(null_mut(), || {
        // SAFETY: per the contract.
        unsafe {
            let (Some(u), Some(acct), Some(proto)) =
                (us.as_ref(), bytes(accountname), bytes(protocol))
            else {
                return null_mut();
            };
            let mut cur = u.privkey_root;
            while let Some(k) = cur.as_ref() {
                if bytes(k.accountname) == Some(acct) && bytes(k.protocol) == Some(proto) {
                    return cur;
                }
                cur = k.next;
            }
        }
        null_mut()
    })
}

/// Forgets one private key (the key file is not touched).
///
/// # Safety
/// `privkey` is NULL or a key of a user state, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_forget(privkey: *mut OtrlPrivKey) {
    guard((), || {
        // SAFETY: per the contract.
        unsafe {
            if privkey.is_null() {
                return;
            }
            crate::list::unlink(privkey);
            free_cell(privkey);
        }
    })
}

/// Forgets every private key of the user state.
///
/// # Safety
/// `us` is NULL or a valid user state.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_forget_all(us: OtrlUserState) {
    guard((), || {
        // SAFETY: per the contract.
        unsafe {
            if us.is_null() {
                return;
            }
            while !(*us).privkey_root.is_null() {
                otrl_privkey_forget((*us).privkey_root);
            }
        }
    })
}

/// Signs `data` (read as a big-endian number, reduced mod q, as 4.1.1
/// does) with the private key; `*sigp` gets a malloc'd 40-byte r || s.
///
/// # Safety
/// `sigp` and `siglenp` are writable; `privkey` is NULL or a key of a user
/// state; `data` is readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_sign(
    sigp: *mut *mut c_uchar,
    siglenp: *mut usize,
    privkey: *mut OtrlPrivKey,
    data: *const c_uchar,
    len: usize,
) -> gcry_error_t {
    guard(libotr_error(code::GENERAL), || {
        // SAFETY: per the contract.
        unsafe {
            let Some(k) = privkey.as_ref() else {
                return libotr_error(code::INV_VALUE);
            };
            if k.pubkey_type != OTRL_PUBKEY_TYPE_DSA || sigp.is_null() || siglenp.is_null() {
                return libotr_error(code::INV_VALUE);
            }
            if data.is_null() && len != 0 {
                return libotr_error(code::INV_VALUE);
            }
            let msg = if len == 0 {
                &[][..]
            } else {
                core::slice::from_raw_parts(data, len)
            };
            let key = match cell(privkey).stored.dsa() {
                Ok(key) => key,
                Err(e) => return e.value(),
            };
            let sig = match key.sign(msg) {
                Ok(sig) => sig,
                Err(e) => return e.value(),
            };
            let out = malloc_copy(&sig);
            if out.is_null() {
                return error_from_errno(libc::ENOMEM);
            }
            *sigp = out;
            *siglenp = sig.len();
        }
        0
    })
}

/// Verifies a DSA signature (40 bytes, r || s) over `data` with the public
/// key `pubs`, a libgcrypt `(public-key (dsa (p ..)(q ..)(g ..)(y ..)))`.
///
/// libotr-rs does not link libgcrypt: `pubs` is read through the
/// process's own libgcrypt (looked up at run time), so it must be a genuine
/// `gcry_sexp_t`; without libgcrypt in the process the answer is
/// `GPG_ERR_NO_PUBKEY`.
///
/// # Safety
/// `sigbuf` is readable for `siglen` bytes, `data` for `len` bytes; `pubs`
/// is NULL or a libgcrypt S-expression.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_verify(
    sigbuf: *const c_uchar,
    siglen: usize,
    pubkey_type: c_ushort,
    pubs: gcry_sexp_t,
    data: *const c_uchar,
    len: usize,
) -> gcry_error_t {
    guard(libotr_error(code::GENERAL), || {
        if pubkey_type != OTRL_PUBKEY_TYPE_DSA {
            return libotr_error(code::INV_VALUE);
        }
        if (sigbuf.is_null() && siglen != 0) || (data.is_null() && len != 0) {
            return libotr_error(code::INV_VALUE);
        }
        // SAFETY: pubs is NULL or a libgcrypt S-expression per the contract.
        let Some(public) = (unsafe { crate::gcry::public_key_of(pubs) }) else {
            return libotr_error(code::NO_PUBKEY);
        };
        // SAFETY: readable per the contract.
        let (sig, msg) = unsafe {
            (
                if siglen == 0 {
                    &[][..]
                } else {
                    core::slice::from_raw_parts(sigbuf, siglen)
                },
                if len == 0 {
                    &[][..]
                } else {
                    core::slice::from_raw_parts(data, len)
                },
            )
        };
        match public.verify_libotr(sig, msg) {
            Ok(()) => 0,
            Err(e) => e.value(),
        }
    })
}

/// The signing key behind a key of a user state, for the AKE.
///
/// # Safety
/// `p` is a live key of a user state.
pub(crate) unsafe fn signing_key(
    p: *const OtrlPrivKey,
) -> Result<otr_core::crypto::dsa::DsaPrivateKey, gcry_error_t> {
    // SAFETY: per the contract.
    unsafe { cell(p) }.stored.dsa().map_err(|e| e.value())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::userstate::{otrl_userstate_create, otrl_userstate_free};
    use std::ffi::CString;
    use std::path::PathBuf;

    /// A fresh scratch directory for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("libotr-rs-privkey-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn cpath(p: &std::path::Path) -> CString {
        CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
    }

    fn key_names(us: OtrlUserState) -> Vec<(Vec<u8>, [u8; 20])> {
        let mut out = Vec::new();
        // SAFETY: us is a valid user state made by the test.
        unsafe {
            let mut k = (*us).privkey_root;
            while let Some(key) = k.as_ref() {
                let data = core::slice::from_raw_parts(key.pubkey_data, key.pubkey_datalen);
                out.push((
                    bytes(key.accountname).unwrap().to_vec(),
                    otr_core::crypto::sha1(data),
                ));
                k = key.next;
            }
        }
        out
    }

    fn pending_count(us: OtrlUserState) -> usize {
        let mut n = 0;
        // SAFETY: us is valid.
        unsafe {
            let mut p = (*us).pending_root;
            while let Some(e) = p.as_ref() {
                n += 1;
                p = e.next;
            }
        }
        n
    }

    /// A user state holding keys for "a" and "b", generated into `file`.
    fn two_keys(file: &CString) -> OtrlUserState {
        let us = otrl_userstate_create();
        // SAFETY: valid user state and C strings.
        unsafe {
            assert_eq!(
                otrl_privkey_generate(us, file.as_ptr(), c"a".as_ptr(), c"p".as_ptr()),
                0
            );
            assert_eq!(
                otrl_privkey_generate(us, file.as_ptr(), c"b".as_ptr(), c"p".as_ptr()),
                0
            );
        }
        us
    }

    #[test]
    fn privkey_slot_is_null_without_libgcrypt() {
        // The test binary does not load libgcrypt, so no gcry_sexp_t can be
        // made; with libgcrypt loaded the C harness gcry_sexp checks the slot.
        assert!(crate::libgcrypt::get().is_none());
        let dir = scratch("nogcrypt");
        let us = two_keys(&cpath(&dir.join("keys")));
        // SAFETY: us is valid; its keys are walked read-only.
        unsafe {
            let mut k = (*us).privkey_root;
            while let Some(key) = k.as_ref() {
                assert!(key.privkey.is_null());
                k = key.next;
            }
            otrl_userstate_free(us);
        }
    }

    #[test]
    fn bad_files_leave_loaded_keys_alone() {
        let dir = scratch("bad");
        let keys = cpath(&dir.join("keys"));
        let us = two_keys(&keys);
        let before = key_names(us);
        assert_eq!(before.len(), 2);
        let good = std::fs::read(dir.join("keys")).unwrap();
        let cases: Vec<(&str, Vec<u8>, u32)> = vec![
            ("unbalanced", b"(privkeys".to_vec(), 0x0100_00cb),
            ("not privkeys", b"(foo)".to_vec(), 0x2000_0036),
            (
                "missing protocol",
                b"(privkeys (account (name a)))".to_vec(),
                0x2000_0036,
            ),
            ("truncated", good[..good.len() / 2].to_vec(), 0x0100_00cb),
            (
                "good then bad",
                [&good[..good.len() - 2], b"(foo))\n"].concat(),
                0x2000_0036,
            ),
        ];
        for (label, data, code) in cases {
            let path = dir.join(label);
            std::fs::write(&path, &data).unwrap();
            let name = cpath(&path);
            // SAFETY: valid user state and C string.
            assert_eq!(
                unsafe { otrl_privkey_read(us, name.as_ptr()) },
                code,
                "{label}"
            );
            assert_eq!(key_names(us), before, "{label}");
        }
        // A file that cannot be opened changes nothing either.
        let missing = cpath(&dir.join("missing"));
        // SAFETY: as above.
        assert_eq!(
            unsafe { otrl_privkey_read(us, missing.as_ptr()) },
            0x0100_8051
        );
        assert_eq!(key_names(us), before);
        // SAFETY: us is ours.
        unsafe { otrl_userstate_free(us) };
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn empty_file_reports_errno_and_keeps_keys_on_error() {
        let dir = scratch("empty");
        let keys = cpath(&dir.join("keys"));
        let empty = cpath(&dir.join("empty"));
        std::fs::write(dir.join("empty"), b"").unwrap();
        let us = two_keys(&keys);
        let before = key_names(us);
        set_errno(libc::EINVAL);
        // SAFETY: valid user state and C strings.
        assert_eq!(
            unsafe { otrl_privkey_read(us, empty.as_ptr()) },
            0x0100_8030
        );
        assert_eq!(key_names(us), before);
        set_errno(0);
        // SAFETY: as above.
        assert_eq!(unsafe { otrl_privkey_read(us, empty.as_ptr()) }, 0);
        assert!(key_names(us).is_empty());
        // SAFETY: us is ours.
        unsafe { otrl_userstate_free(us) };
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn failures_while_generating_leave_the_file_alone() {
        let dir = scratch("gen");
        let keys = cpath(&dir.join("keys"));
        let us = two_keys(&keys);
        let before = key_names(us);
        let file = std::fs::read(dir.join("keys")).unwrap();
        let mut k: *mut c_void = null_mut();
        // SAFETY: valid user state, C strings and out-pointer; every handle
        // is finished or cancelled once.
        unsafe {
            // A generation pending for the account: 4.1.1 empties the file.
            assert_eq!(
                otrl_privkey_generate_start(us, c"a".as_ptr(), c"p".as_ptr(), &mut k),
                0
            );
            assert_eq!(
                otrl_privkey_generate(us, keys.as_ptr(), c"a".as_ptr(), c"p".as_ptr()),
                0x2000_8023
            );
            assert_eq!(std::fs::read(dir.join("keys")).unwrap(), file);
            // Never calculated: 4.1.1 writes an unreadable account.
            assert_eq!(
                otrl_privkey_generate_finish(us, k, keys.as_ptr()),
                0x2000_0036
            );
            assert_eq!(std::fs::read(dir.join("keys")).unwrap(), file);
            assert_eq!(pending_count(us), 0);
            assert_eq!(key_names(us), before);

            // An unwritable file keeps the generation for another try.
            assert_eq!(
                otrl_privkey_generate_start(us, c"c".as_ptr(), c"p".as_ptr(), &mut k),
                0
            );
            assert_eq!(otrl_privkey_generate_calculate(k), 0);
            let bad = cpath(&dir.join("no/such/dir"));
            assert_eq!(
                otrl_privkey_generate_finish(us, k, bad.as_ptr()),
                0x0100_8051
            );
            assert_eq!(
                otrl_privkey_generate_finish(us, k, core::ptr::null()),
                0x0100_8024
            );
            assert_eq!(pending_count(us), 1);
            assert_eq!(key_names(us), before);
            assert_eq!(otrl_privkey_generate_finish(us, k, keys.as_ptr()), 0);
            assert_eq!(pending_count(us), 0);
            let names: Vec<Vec<u8>> = key_names(us).into_iter().map(|(n, _)| n).collect();
            assert_eq!(names, [b"c".to_vec(), b"a".to_vec(), b"b".to_vec()]);

            // otrl_privkey_generate leaves nothing pending when it fails,
            // and reports an unopenable file before a pending generation.
            assert_eq!(
                otrl_privkey_generate(us, bad.as_ptr(), c"d".as_ptr(), c"p".as_ptr()),
                0x0100_8051
            );
            assert_eq!(pending_count(us), 0);
            assert_eq!(
                otrl_privkey_generate_start(us, c"d".as_ptr(), c"p".as_ptr(), &mut k),
                0
            );
            assert_eq!(
                otrl_privkey_generate(us, bad.as_ptr(), c"d".as_ptr(), c"p".as_ptr()),
                0x0100_8051
            );
            otrl_privkey_generate_cancelled(us, k);

            // A file that opens but cannot be written ends the generation.
            if std::path::Path::new("/dev/full").exists() {
                assert_eq!(
                    otrl_privkey_generate_start(us, c"e".as_ptr(), c"p".as_ptr(), &mut k),
                    0
                );
                assert_eq!(otrl_privkey_generate_calculate(k), 0);
                assert_eq!(
                    otrl_privkey_generate_finish(us, k, c"/dev/full".as_ptr()),
                    0x0100_805b
                );
                assert_eq!(pending_count(us), 0);
                assert_eq!(key_names(us).len(), 3);
            }
            assert!(std::fs::read(dir.join("keys")).unwrap().len() > file.len());
            otrl_userstate_free(us);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
