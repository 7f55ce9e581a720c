//! `dh.h`: Diffie-Hellman key pairs and the session keys derived from them.

use core::ffi::{c_int, c_uchar, c_uint};

use crate::gcry::{gcry_cipher_hd_t, gcry_md_hd_t, gcry_mpi_t};

/// The group id of the 1536-bit MODP group, the only one OTR uses.
pub const DH1536_GROUP_ID: c_uint = 5;
/// Bytes of the "extra" symmetric key (`otrl_message_symkey`).
pub const OTRL_EXTRAKEY_BYTES: usize = 32;

/// A D-H key pair; `groupid` 0 means "unset".
#[repr(C)]
pub struct DH_keypair {
    pub groupid: c_uint,
    pub r#priv: gcry_mpi_t,
    pub r#pub: gcry_mpi_t,
}

/// Which half of the session id is shown in bold.
pub type OtrlSessionIdHalf = c_uint;

/// Values of [`OtrlSessionIdHalf`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OtrlSessionIdHalfValues {
    OTRL_SESSIONID_FIRST_HALF_BOLD = 0,
    OTRL_SESSIONID_SECOND_HALF_BOLD = 1,
}

/// Session keys for one (our key id, their key id) pair.
#[repr(C)]
pub struct DH_sesskeys {
    pub sendctr: [c_uchar; 16],
    pub rcvctr: [c_uchar; 16],
    pub sendenc: gcry_cipher_hd_t,
    pub rcvenc: gcry_cipher_hd_t,
    pub sendmac: gcry_md_hd_t,
    pub sendmackey: [c_uchar; 20],
    pub sendmacused: c_int,
    pub rcvmac: gcry_md_hd_t,
    pub rcvmackey: [c_uchar; 20],
    pub rcvmacused: c_int,
    pub extrakey: [c_uchar; OTRL_EXTRAKEY_BYTES],
}

/// Releases what an MPI slot holds and sets it to NULL.
///
/// Slots stay NULL until the protocol engine fills them, so clearing is a
/// reset of the pointer here.
pub(crate) fn mpi_slot_clear(slot: &mut gcry_mpi_t) {
    *slot = core::ptr::null_mut();
}

/// Forgets a D-H key pair (group id 0, no numbers).
pub(crate) fn dh_keypair_clear(kp: &mut DH_keypair) {
    kp.groupid = 0;
    mpi_slot_clear(&mut kp.r#priv);
    mpi_slot_clear(&mut kp.r#pub);
}

/// Wipes session keys: counters, MAC keys and the extra key become zero.
pub(crate) fn dh_session_clear(s: &mut DH_sesskeys) {
    use zeroize::Zeroize;
    s.sendctr.zeroize();
    s.rcvctr.zeroize();
    s.sendmackey.zeroize();
    s.rcvmackey.zeroize();
    s.extrakey.zeroize();
    s.sendmacused = 0;
    s.rcvmacused = 0;
    s.sendenc = core::ptr::null_mut();
    s.rcvenc = core::ptr::null_mut();
    s.sendmac = core::ptr::null_mut();
    s.rcvmac = core::ptr::null_mut();
}
