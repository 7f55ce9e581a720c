//! `context_priv.h`: the per-context state libotr keeps for itself.

use core::ffi::{c_char, c_int, c_uchar, c_uint, c_ushort};

use crate::dh::{DH_keypair, DH_sesskeys};
use crate::gcry::gcry_mpi_t;

/// Private part of a context, same layout as 4.1.1's `ConnContextPriv`.
#[repr(C)]
pub struct context_priv {
    pub fragment: *mut c_char,
    pub fragment_len: usize,
    pub fragment_n: c_ushort,
    pub fragment_k: c_ushort,
    pub their_keyid: c_uint,
    pub their_y: gcry_mpi_t,
    pub their_old_y: gcry_mpi_t,
    pub our_keyid: c_uint,
    pub our_dh_key: DH_keypair,
    pub our_old_dh_key: DH_keypair,
    pub sesskeys: [[DH_sesskeys; 2]; 2],
    pub numsavedkeys: c_uint,
    pub saved_mac_keys: *mut c_uchar,
    pub generation: c_uint,
    pub lastsent: libc::time_t,
    pub lastrecv: libc::time_t,
    pub lastmessage: *mut c_char,
    pub may_retransmit: c_int,
}

/// The libotr name of [`context_priv`].
pub type ConnContextPriv = context_priv;

use core::ptr::null_mut;

use crate::dh::{dh_keypair_clear, dh_session_clear};
use crate::ffi::{free, guard};

/// The private part as allocated here: the C-visible struct first (so a
/// pointer to the cell is a pointer to the `ConnContextPriv`), then the
/// engine's state of the conversation.
#[repr(C)]
pub(crate) struct PrivCell {
    c: ConnContextPriv,
    session: otr_core::session::Session,
}

/// A fresh private context part: no fragment, no keys, generation 0.
///
/// Returns NULL when memory runs out.
#[no_mangle]
pub extern "C" fn otrl_context_priv_new() -> *mut ConnContextPriv {
    guard(null_mut(), || {
        // SAFETY: every field of ConnContextPriv is an integer, an array of
        // integers or a raw pointer, for which all-zero is valid (and is
        // the initial state).
        let c = unsafe { core::mem::zeroed::<ConnContextPriv>() };
        let cell = Box::new(PrivCell {
            c,
            session: otr_core::session::Session::new(),
        });
        Box::into_raw(cell).cast::<ConnContextPriv>()
    })
}

/// The engine state behind a context's private part.
///
/// # Safety
/// `p` came from [`otrl_context_priv_new`] and is alive; no other
/// reference to the session exists while the result is used (callers never
/// hold it across a call into application code).
pub(crate) unsafe fn session_of<'a>(p: *mut ConnContextPriv) -> &'a mut otr_core::session::Session {
    // SAFETY: p is the first field of a boxed PrivCell per the contract.
    unsafe { &mut (*p.cast::<PrivCell>()).session }
}

/// Wipes the private state that an ended conversation must not keep:
/// the pending fragment, D-H keys, session keys, saved MAC keys and the
/// last message kept for retransmission. The generation number stays.
///
/// # Safety
/// `context_priv` is NULL or a private context part made by this library
/// (`otrl_context_priv_new`, or a context's `context_priv`).
#[no_mangle]
pub unsafe extern "C" fn otrl_context_priv_force_finished(context_priv: *mut ConnContextPriv) {
    guard((), || {
        // SAFETY: per the contract; the freed pointers are malloc'd or NULL.
        let Some(p) = (unsafe { context_priv.as_mut() }) else {
            return;
        };
        unsafe {
            free(p.fragment);
            p.fragment = null_mut();
            p.fragment_len = 0;
            p.fragment_n = 0;
            p.fragment_k = 0;
            if !p.saved_mac_keys.is_null() {
                zero_and_free(p.saved_mac_keys, p.numsavedkeys as usize * 20);
            }
            p.numsavedkeys = 0;
            p.saved_mac_keys = null_mut();
            free(p.lastmessage);
            p.lastmessage = null_mut();
        }
        p.may_retransmit = 0;
        p.their_keyid = 0;
        p.our_keyid = 0;
        dh_keypair_clear(&mut p.our_dh_key);
        dh_keypair_clear(&mut p.our_old_dh_key);
        for row in p.sesskeys.iter_mut() {
            for s in row.iter_mut() {
                dh_session_clear(s);
            }
        }
        crate::dh::mpi_slot_clear(&mut p.their_y);
        crate::dh::mpi_slot_clear(&mut p.their_old_y);
        // SAFETY: context_priv is a live cell per the contract.
        unsafe { session_of(context_priv) }.end();
    })
}

/// Zeroes `len` bytes at `p` and frees it.
///
/// # Safety
/// `p` is a malloc'd block of at least `len` bytes.
unsafe fn zero_and_free(p: *mut u8, len: usize) {
    // SAFETY: per the contract.
    unsafe {
        core::ptr::write_bytes(p, 0, len);
        free(p);
    }
}

/// Frees a private context part and everything it holds.
///
/// # Safety
/// `p` is NULL or from [`otrl_context_priv_new`], not used afterwards.
pub(crate) unsafe fn context_priv_free(p: *mut ConnContextPriv) {
    if p.is_null() {
        return;
    }
    // SAFETY: per the contract; the cell was boxed by otrl_context_priv_new.
    unsafe {
        otrl_context_priv_force_finished(p);
        drop(Box::from_raw(p.cast::<PrivCell>()));
    }
}
