//! `userstate.h`: everything libotr knows for one user of the application.

use core::ffi::c_int;

use crate::context::ConnContext;
use crate::instag::OtrlInsTag;
use crate::privkey_t::{OtrlPendingPrivKey, OtrlPrivKey};

/// The user state; applications walk its lists directly.
#[repr(C)]
pub struct s_OtrlUserState {
    pub context_root: *mut ConnContext,
    pub privkey_root: *mut OtrlPrivKey,
    pub instag_root: *mut OtrlInsTag,
    pub pending_root: *mut OtrlPendingPrivKey,
    pub timer_running: c_int,
}

/// The handle applications hold.
pub type OtrlUserState = *mut s_OtrlUserState;

/// Creates an empty user state (no contexts, keys or instance tags).
///
/// Returns NULL when memory runs out.
#[no_mangle]
pub extern "C" fn otrl_userstate_create() -> OtrlUserState {
    crate::ffi::calloc::<s_OtrlUserState>()
}

/// Frees a user state and everything in it: contexts (calling their
/// `app_data_free`), private keys, pending key generations, instance tags.
///
/// # Safety
/// `us` is NULL or from [`otrl_userstate_create`], not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn otrl_userstate_free(us: OtrlUserState) {
    if us.is_null() {
        return;
    }
    // SAFETY: us is a valid user state per the contract.
    unsafe {
        crate::context::otrl_context_forget_all(us);
        crate::privkey::otrl_privkey_forget_all(us);
        crate::privkey::otrl_privkey_pending_forget_all(us);
        crate::instag::otrl_instag_forget_all(us);
        crate::ffi::free(us);
    }
}
