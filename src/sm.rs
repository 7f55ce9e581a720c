//! `sm.h`: the Socialist Millionaires' Protocol state.

use core::ffi::{c_int, c_uint};

use crate::gcry::gcry_mpi_t;

/// Bytes of the SMP hash (SHA-256).
pub const SM_DIGEST_SIZE: c_uint = 32;

/// Which SMP message is expected next.
pub type NextExpectedSMP = c_uint;

/// Values of [`NextExpectedSMP`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum NextExpectedSMPValues {
    OTRL_SMP_EXPECT1 = 0,
    OTRL_SMP_EXPECT2 = 1,
    OTRL_SMP_EXPECT3 = 2,
    OTRL_SMP_EXPECT4 = 3,
    OTRL_SMP_EXPECT5 = 4,
}

/// How the current SMP run is going.
pub type OtrlSMProgState = c_int;

/// Values of [`OtrlSMProgState`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OtrlSMProgStateValues {
    OTRL_SMP_PROG_OK = 0,
    OTRL_SMP_PROG_CHEATED = -2,
    OTRL_SMP_PROG_FAILED = -1,
    OTRL_SMP_PROG_SUCCEEDED = 1,
}

/// The SMP state every context points to (`ConnContext::smstate`).
#[repr(C)]
pub struct OtrlSMState {
    pub secret: gcry_mpi_t,
    pub x2: gcry_mpi_t,
    pub x3: gcry_mpi_t,
    pub g1: gcry_mpi_t,
    pub g2: gcry_mpi_t,
    pub g3: gcry_mpi_t,
    pub g3o: gcry_mpi_t,
    pub p: gcry_mpi_t,
    pub q: gcry_mpi_t,
    pub pab: gcry_mpi_t,
    pub qab: gcry_mpi_t,
    pub nextExpected: NextExpectedSMP,
    pub received_question: c_int,
    pub sm_prog_state: OtrlSMProgState,
}

/// The initiator's view of [`OtrlSMState`].
pub type OtrlSMAliceState = OtrlSMState;
/// The responder's view of [`OtrlSMState`].
pub type OtrlSMBobState = OtrlSMState;

/// Puts an SMP state back to its initial values in place: no secret,
/// expecting SMP1, no question, progress OK. Applications rely on the
/// struct's address staying the same.
pub(crate) fn sm_state_reset(s: &mut OtrlSMState) {
    for slot in [
        &mut s.secret,
        &mut s.x2,
        &mut s.x3,
        &mut s.g1,
        &mut s.g2,
        &mut s.g3,
        &mut s.g3o,
        &mut s.p,
        &mut s.q,
        &mut s.pab,
        &mut s.qab,
    ] {
        crate::dh::mpi_slot_clear(slot);
    }
    s.nextExpected = NextExpectedSMPValues::OTRL_SMP_EXPECT1 as NextExpectedSMP;
    s.received_question = 0;
    s.sm_prog_state = OtrlSMProgStateValues::OTRL_SMP_PROG_OK as OtrlSMProgState;
}

/// Prepares the SMP module. The group constants are compile-time values in
/// libotr-rs, so there is nothing to set up; kept for 4.1.1's callers.
#[no_mangle]
pub extern "C" fn otrl_sm_init() {}

/// Initialises a freshly allocated SMP state: no secret, expecting SMP1,
/// no question received, progress OK.
///
/// # Safety
/// `smst` is NULL or points to writable memory for an `OtrlSMState`.
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_state_new(smst: *mut OtrlSMState) {
    if smst.is_null() {
        return;
    }
    // SAFETY: writable per the contract; the pointer slots are overwritten
    // without being read, as the memory may be uninitialised.
    unsafe {
        core::ptr::write_bytes(smst, 0, 1);
        sm_state_reset(&mut *smst);
    }
}

/// Frees what an SMP state holds and resets it in place (its address stays
/// valid): applications call this on `context->smstate` to cancel an SMP.
///
/// # Safety
/// `smst` is NULL or a valid SMP state.
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_state_free(smst: *mut OtrlSMState) {
    // SAFETY: valid per the contract.
    if let Some(s) = unsafe { smst.as_mut() } {
        sm_state_reset(s);
    }
}
