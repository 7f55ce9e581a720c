//! `auth.h`: the state of an authenticated key exchange.

use core::ffi::{c_char, c_int, c_uchar, c_uint};

use crate::context::context;
use crate::dh::{DH_keypair, OtrlSessionIdHalf};
use crate::gcry::{gcry_cipher_hd_t, gcry_md_hd_t, gcry_mpi_t};

/// Where an AKE stands.
pub type OtrlAuthState = c_uint;

/// Values of [`OtrlAuthState`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OtrlAuthStateValues {
    OTRL_AUTHSTATE_NONE = 0,
    OTRL_AUTHSTATE_AWAITING_DHKEY = 1,
    OTRL_AUTHSTATE_AWAITING_REVEALSIG = 2,
    OTRL_AUTHSTATE_AWAITING_SIG = 3,
    OTRL_AUTHSTATE_V1_SETUP = 4,
}

/// The AKE state embedded in every `ConnContext` (256 bytes on x86_64).
#[repr(C)]
pub struct OtrlAuthInfo {
    pub authstate: OtrlAuthState,
    pub context: *mut context,
    pub our_dh: DH_keypair,
    pub our_keyid: c_uint,
    pub encgx: *mut c_uchar,
    pub encgx_len: usize,
    pub r: [c_uchar; 16],
    pub hashgx: [c_uchar; 32],
    pub their_pub: gcry_mpi_t,
    pub their_keyid: c_uint,
    pub enc_c: gcry_cipher_hd_t,
    pub enc_cp: gcry_cipher_hd_t,
    pub mac_m1: gcry_md_hd_t,
    pub mac_m1p: gcry_md_hd_t,
    pub mac_m2: gcry_md_hd_t,
    pub mac_m2p: gcry_md_hd_t,
    pub their_fingerprint: [c_uchar; 20],
    pub initiated: c_int,
    pub protocol_version: c_uint,
    pub secure_session_id: [c_uchar; 20],
    pub secure_session_id_len: usize,
    pub session_id_half: OtrlSessionIdHalf,
    pub lastauthmsg: *mut c_char,
    pub commit_sent_time: libc::time_t,
}

/// Returns an AKE state to NONE, freeing what it holds.
pub(crate) fn auth_clear(auth: &mut OtrlAuthInfo) {
    use zeroize::Zeroize;
    auth.authstate = OtrlAuthStateValues::OTRL_AUTHSTATE_NONE as OtrlAuthState;
    crate::dh::dh_keypair_clear(&mut auth.our_dh);
    auth.our_keyid = 0;
    // SAFETY: encgx and lastauthmsg are NULL or malloc'd by this library.
    unsafe {
        crate::ffi::free(auth.encgx);
        crate::ffi::free(auth.lastauthmsg);
    }
    auth.encgx = core::ptr::null_mut();
    auth.encgx_len = 0;
    auth.lastauthmsg = core::ptr::null_mut();
    auth.r.zeroize();
    auth.hashgx.zeroize();
    crate::dh::mpi_slot_clear(&mut auth.their_pub);
    auth.their_keyid = 0;
    for h in [
        &mut auth.enc_c,
        &mut auth.enc_cp,
        &mut auth.mac_m1,
        &mut auth.mac_m1p,
        &mut auth.mac_m2,
        &mut auth.mac_m2p,
    ] {
        *h = core::ptr::null_mut();
    }
    auth.their_fingerprint.zeroize();
    auth.initiated = 0;
    auth.protocol_version = 0;
    auth.secure_session_id.zeroize();
    auth.secure_session_id_len = 0;
    auth.session_id_half = 0;
    auth.commit_sent_time = 0;
}
