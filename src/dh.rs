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

use core::ptr::null_mut;

use otr_core::crypto::dh::{self as core_dh, DhKeyPair, GROUP_ID};
use otr_core::crypto::kdf::{AkeKeys, SessionKeys};
use otr_core::error::{code, OtrError};

use crate::ffi::guard;
use crate::gcry::{
    cipher_free, cipher_new, gcry_error_t, mac_free, mac_new, mpi_clone, mpi_free, mpi_new,
    mpi_ref, MacAlgo,
};

/// Length of a D-H private exponent as libotr draws it (40 bytes).
const PRIVATE_LEN: usize = core_dh::PRIVATE_KEY_LEN;

fn inv_value() -> gcry_error_t {
    OtrError::libotr(code::INV_VALUE).value()
}

/// Releases what an MPI slot holds and sets it to NULL.
///
/// The slots of libotr's structs hold NULL or libotr-rs number objects
/// ([`crate::gcry::Mpi`]); the object is wiped and freed. Anything else
/// found there (a pointer an application stored) is only forgotten.
pub(crate) fn mpi_slot_clear(slot: &mut gcry_mpi_t) {
    // SAFETY: slots of the library's structs hold NULL or live objects made
    // by crate::gcry (the structs start zeroed and only this library fills
    // them); the slot is reset so the object is not used again.
    unsafe { mpi_free(*slot) };
    *slot = null_mut();
}

/// Releases a cipher-handle slot (see [`mpi_slot_clear`]).
pub(crate) fn cipher_slot_clear(slot: &mut gcry_cipher_hd_t) {
    // SAFETY: as in mpi_slot_clear.
    unsafe { cipher_free(*slot) };
    *slot = null_mut();
}

/// Releases an MD-handle slot (see [`mpi_slot_clear`]).
pub(crate) fn md_slot_clear(slot: &mut gcry_md_hd_t) {
    // SAFETY: as in mpi_slot_clear.
    unsafe { mac_free(*slot) };
    *slot = null_mut();
}

/// Frees the numbers of a D-H key pair, as `otrl_dh_keypair_free`: both
/// become NULL and, as in 4.1.1, the group id stays.
pub(crate) fn dh_keypair_clear(kp: &mut DH_keypair) {
    mpi_slot_clear(&mut kp.r#priv);
    mpi_slot_clear(&mut kp.r#pub);
}

/// Sets a key pair to libotr-rs objects for `pair` (group 5), freeing what
/// it held.
pub(crate) fn dh_keypair_set(kp: &mut DH_keypair, pair: &DhKeyPair) {
    dh_keypair_clear(kp);
    kp.groupid = DH1536_GROUP_ID;
    kp.r#priv = mpi_new(&pair.private_bytes());
    kp.r#pub = mpi_new(&pair.public_bytes());
}

/// The engine's key pair behind a C key pair: group 5 and a private
/// exponent of at most 192 bytes. The public value is recomputed.
///
/// # Safety
/// The slots of `kp` hold NULL or live libotr-rs objects.
pub(crate) unsafe fn dh_keypair_get(kp: &DH_keypair) -> Option<DhKeyPair> {
    if kp.groupid != DH1536_GROUP_ID {
        return None;
    }
    // SAFETY: per the contract.
    let x = unsafe { mpi_ref(kp.r#priv) }?;
    // Short exponents are scanned at libotr's full width, so the time taken
    // does not depend on leading zero bytes.
    if x.bytes.len() < PRIVATE_LEN {
        let mut padded = zeroize::Zeroizing::new(vec![0u8; PRIVATE_LEN]);
        padded[PRIVATE_LEN - x.bytes.len()..].copy_from_slice(&x.bytes);
        DhKeyPair::from_private(&padded).ok()
    } else {
        DhKeyPair::from_private(&x.bytes).ok()
    }
}

/// Frees the handles of session keys and wipes them, as
/// `otrl_dh_session_free`: counters, MAC keys and the extra key become zero.
pub(crate) fn dh_session_clear(s: &mut DH_sesskeys) {
    cipher_slot_clear(&mut s.sendenc);
    cipher_slot_clear(&mut s.rcvenc);
    md_slot_clear(&mut s.sendmac);
    md_slot_clear(&mut s.rcvmac);
    dh_session_blank(s);
}

/// Zeroes session keys and sets their handles to NULL without freeing them.
fn dh_session_blank(s: &mut DH_sesskeys) {
    use zeroize::Zeroize;
    s.sendctr.zeroize();
    s.rcvctr.zeroize();
    s.sendmackey.zeroize();
    s.rcvmackey.zeroize();
    s.extrakey.zeroize();
    s.sendmacused = 0;
    s.rcvmacused = 0;
    s.sendenc = null_mut();
    s.rcvenc = null_mut();
    s.sendmac = null_mut();
    s.rcvmac = null_mut();
}

/// Fills blanked session keys from derived ones: new handle objects, the
/// MAC keys and the extra key; counters stay zero.
pub(crate) fn dh_session_set(s: &mut DH_sesskeys, keys: &SessionKeys) {
    s.sendenc = cipher_new(&keys.send_aes);
    s.rcvenc = cipher_new(&keys.recv_aes);
    s.sendmackey = keys.send_mac;
    s.sendmac = mac_new(MacAlgo::Sha1, &keys.send_mac);
    s.rcvmackey = keys.recv_mac;
    s.rcvmac = mac_new(MacAlgo::Sha1, &keys.recv_mac);
    s.extrakey = keys.extra_key;
}

/// Handle objects for the AKE keys: c and c' as AES-128-CTR keys, m1, m1',
/// m2, m2' as HMAC-SHA256 keys, in `otrl_dh_compute_v2_auth_keys`'s order.
pub(crate) fn ake_handles(
    keys: &AkeKeys,
) -> (
    gcry_cipher_hd_t,
    gcry_cipher_hd_t,
    gcry_md_hd_t,
    gcry_md_hd_t,
    gcry_md_hd_t,
    gcry_md_hd_t,
) {
    (
        cipher_new(&keys.c),
        cipher_new(&keys.c_prime),
        mac_new(MacAlgo::Sha256, &keys.m1),
        mac_new(MacAlgo::Sha256, &keys.m1_prime),
        mac_new(MacAlgo::Sha256, &keys.m2),
        mac_new(MacAlgo::Sha256, &keys.m2_prime),
    )
}

/// Prepares the D-H module. The group is a compile-time constant in
/// libotr-rs, so there is nothing to set up; kept for 4.1.1's callers.
#[no_mangle]
pub extern "C" fn otrl_dh_init() {}

/// Initialises a key pair: group id 0 and no numbers.
///
/// The memory may be uninitialised: nothing in it is read or freed (so a
/// pair that held numbers leaks them, as in 4.1.1; use
/// [`otrl_dh_keypair_free`] first).
///
/// # Safety
/// `kp` is NULL or points to writable memory for a `DH_keypair`.
#[no_mangle]
pub unsafe extern "C" fn otrl_dh_keypair_init(kp: *mut DH_keypair) {
    guard((), || {
        if kp.is_null() {
            return;
        }
        // SAFETY: writable per the contract; written without reading.
        unsafe {
            kp.write(DH_keypair {
                groupid: 0,
                r#priv: null_mut(),
                r#pub: null_mut(),
            })
        };
    })
}

/// Copies a key pair: `dst` gets `src`'s group id and copies of its
/// numbers (NULL where `src` has none).
///
/// As in 4.1.1, what `dst` held before is overwritten, not freed: `dst` may
/// be uninitialised memory. NULL pointers are ignored (4.1.1 crashes).
///
/// # Safety
/// `dst` is NULL or writable; `src` is NULL or a key pair whose slots hold
/// NULL or libotr-rs numbers.
#[no_mangle]
pub unsafe extern "C" fn otrl_dh_keypair_copy(dst: *mut DH_keypair, src: *const DH_keypair) {
    guard((), || {
        if dst.is_null() {
            return;
        }
        // SAFETY: per the contract; dst is written without being read.
        unsafe {
            let Some(s) = src.as_ref() else { return };
            dst.write(DH_keypair {
                groupid: s.groupid,
                r#priv: mpi_clone(s.r#priv),
                r#pub: mpi_clone(s.r#pub),
            });
        }
    })
}

/// Frees the numbers of a key pair (wiping the private exponent) and sets
/// them to NULL; the pair itself stays, and so does its group id, as in
/// 4.1.1.
///
/// # Safety
/// `kp` is NULL or a key pair whose slots hold NULL or libotr-rs numbers.
#[no_mangle]
pub unsafe extern "C" fn otrl_dh_keypair_free(kp: *mut DH_keypair) {
    guard((), || {
        // SAFETY: per the contract.
        if let Some(kp) = unsafe { kp.as_mut() } {
            dh_keypair_clear(kp);
        }
    })
}

/// Generates a fresh D-H key pair in group `groupid`, which must be
/// `DH1536_GROUP_ID` (5): a 40-byte random private exponent x and 2^x mod
/// p. Any other group gives `GPG_ERR_INV_VALUE` and leaves `kp` untouched,
/// as does a NULL `kp`.
///
/// As in 4.1.1, numbers `kp` held before are overwritten, not freed.
///
/// # Safety
/// `kp` is NULL or points to writable memory for a `DH_keypair`.
#[no_mangle]
pub unsafe extern "C" fn otrl_dh_gen_keypair(groupid: c_uint, kp: *mut DH_keypair) -> gcry_error_t {
    guard(inv_value(), || {
        if groupid != GROUP_ID || kp.is_null() {
            return inv_value();
        }
        let pair = DhKeyPair::generate();
        // SAFETY: writable per the contract; written without being read.
        unsafe {
            kp.write(DH_keypair {
                groupid,
                r#priv: mpi_new(&pair.private_bytes()),
                r#pub: mpi_new(&pair.public_bytes()),
            });
        }
        0
    })
}

/// Derives the session keys of our key pair `kp` with their public value
/// `y`: AES-128 keys for each direction (as cipher handles), their SHA-1
/// MAC keys (in `sendmackey`/`rcvmackey` and as HMAC-SHA1 handles) and the
/// 32-byte extra symmetric key. Counters start at zero. The side whose
/// public value is larger sends with the keys of label 0x01.
///
/// `sess` is blanked first (its handles set to NULL, not freed: it may be
/// uninitialised). A `kp` without group 5 and a private exponent gives
/// `GPG_ERR_INV_VALUE`.
///
/// Difference from 4.1.1: a `y` outside 2..p-2 is refused with
/// `GPG_ERR_INV_VALUE` (4.1.1 derives keys from it anyway; for 0, 1 and
/// p-1 the shared secret is public). NULL pointers give
/// `GPG_ERR_INV_VALUE` rather than a crash.
///
/// # Safety
/// `sess` is NULL or writable memory for a `DH_sesskeys`; `kp` is NULL or a
/// key pair and `y` NULL or a number, holding libotr-rs objects.
#[no_mangle]
pub unsafe extern "C" fn otrl_dh_session(
    sess: *mut DH_sesskeys,
    kp: *const DH_keypair,
    y: gcry_mpi_t,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract; sess may be uninitialised, so it is
        // zero-filled before a reference is made.
        unsafe {
            if sess.is_null() {
                return inv_value();
            }
            core::ptr::write_bytes(sess, 0, 1);
            let s = &mut *sess;
            let Some(kp) = kp.as_ref() else {
                return inv_value();
            };
            let (Some(pair), Some(y)) = (dh_keypair_get(kp), mpi_ref(y)) else {
                return inv_value();
            };
            let our_pub = match mpi_ref(kp.r#pub) {
                Some(p) => p.bytes.to_vec(),
                None => pair.public_bytes(),
            };
            let Ok(secret) = pair.shared_secret(&y.bytes) else {
                return inv_value();
            };
            let keys = SessionKeys::derive(&our_pub, &y.bytes, &secret);
            dh_session_set(s, &keys);
            0
        }
    })
}

/// Computes the AKE's keys from our key pair and their public value: the
/// 8-byte secure session id (into `sessionid`, length 8 into
/// `*sessionidlenp`), c and c' as AES-128-CTR cipher handles, and m1, m1',
/// m2, m2' as HMAC-SHA256 handles.
///
/// The six handle out-pointers are set to NULL first (without freeing what
/// they held, as in 4.1.1). A key pair not of group 5, or a `their_pub`
/// outside 2..p-2, gives `GPG_ERR_INV_VALUE` and leaves the session id and
/// its length untouched. NULL pointers give `GPG_ERR_INV_VALUE` (4.1.1
/// crashes).
///
/// # Safety
/// `our_dh` is NULL or a key pair and `their_pub` NULL or a number holding
/// libotr-rs objects; `sessionid` is NULL or has room for 8 bytes; the
/// other out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_dh_compute_v2_auth_keys(
    our_dh: *const DH_keypair,
    their_pub: gcry_mpi_t,
    sessionid: *mut c_uchar,
    sessionidlenp: *mut usize,
    enc_c: *mut gcry_cipher_hd_t,
    enc_cp: *mut gcry_cipher_hd_t,
    mac_m1: *mut gcry_md_hd_t,
    mac_m1p: *mut gcry_md_hd_t,
    mac_m2: *mut gcry_md_hd_t,
    mac_m2p: *mut gcry_md_hd_t,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract.
        unsafe {
            let outs = [enc_c, enc_cp, mac_m1, mac_m1p, mac_m2, mac_m2p];
            for p in outs {
                if !p.is_null() {
                    *p = null_mut();
                }
            }
            if outs.iter().any(|p| p.is_null()) || sessionid.is_null() || sessionidlenp.is_null() {
                return inv_value();
            }
            let Some(kp) = our_dh.as_ref() else {
                return inv_value();
            };
            let (Some(pair), Some(y)) = (dh_keypair_get(kp), mpi_ref(their_pub)) else {
                return inv_value();
            };
            let Ok(keys) = AkeKeys::compute(&pair, &y.bytes) else {
                return inv_value();
            };
            core::ptr::copy_nonoverlapping(keys.ssid.as_ptr(), sessionid, keys.ssid.len());
            *sessionidlenp = keys.ssid.len();
            let h = ake_handles(&keys);
            (*enc_c, *enc_cp, *mac_m1, *mac_m1p, *mac_m2, *mac_m2p) = h;
            0
        }
    })
}

/// The OTR v1 secure session id of our key pair and their public value:
/// SHA-1 of 0x00 followed by the shared secret as an MPI (20 bytes into
/// `sessionid`, 20 into `*sessionidlenp`), and which half the user
/// interface shows in bold: the second when our public value is the
/// larger, else the first.
///
/// A key pair not of group 5, or a `their_pub` outside 2..p-2, gives
/// `GPG_ERR_INV_VALUE` and writes nothing. NULL pointers give
/// `GPG_ERR_INV_VALUE` (4.1.1 crashes).
///
/// # Safety
/// `our_dh` is NULL or a key pair and `their_pub` NULL or a number holding
/// libotr-rs objects; `sessionid` is NULL or has room for 20 bytes;
/// `sessionidlenp` and `halfp` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_dh_compute_v1_session_id(
    our_dh: *const DH_keypair,
    their_pub: gcry_mpi_t,
    sessionid: *mut c_uchar,
    sessionidlenp: *mut usize,
    halfp: *mut OtrlSessionIdHalf,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract.
        unsafe {
            if sessionid.is_null() || sessionidlenp.is_null() || halfp.is_null() {
                return inv_value();
            }
            let Some(kp) = our_dh.as_ref() else {
                return inv_value();
            };
            let (Some(pair), Some(y)) = (dh_keypair_get(kp), mpi_ref(their_pub)) else {
                return inv_value();
            };
            let Ok(secret) = pair.shared_secret(&y.bytes) else {
                return inv_value();
            };
            let our_pub = match mpi_ref(kp.r#pub) {
                Some(p) => p.bytes.to_vec(),
                None => pair.public_bytes(),
            };
            let (id, half) = v1_session_id(&secret, &our_pub, &y.bytes);
            core::ptr::copy_nonoverlapping(id.as_ptr(), sessionid, id.len());
            *sessionidlenp = id.len();
            *halfp = half;
            0
        }
    })
}

/// SHA-1(0x00 || MPI(secret)) and the bold half for our public value.
pub(crate) fn v1_session_id(
    secret: &[u8],
    our_pub: &[u8],
    their_pub: &[u8],
) -> ([u8; 20], OtrlSessionIdHalf) {
    let mut data = zeroize::Zeroizing::new(vec![0u8]);
    data.extend_from_slice(&core_dh::mpi(secret));
    let id = otr_core::crypto::sha1(&data);
    let half = if magnitude_cmp(our_pub, their_pub).is_gt() {
        OtrlSessionIdHalfValues::OTRL_SESSIONID_SECOND_HALF_BOLD
    } else {
        OtrlSessionIdHalfValues::OTRL_SESSIONID_FIRST_HALF_BOLD
    };
    (id, half as OtrlSessionIdHalf)
}

/// Compares two big-endian numbers, ignoring leading zero bytes.
pub(crate) fn magnitude_cmp(a: &[u8], b: &[u8]) -> core::cmp::Ordering {
    fn trim(x: &[u8]) -> &[u8] {
        &x[x.iter().position(|&v| v != 0).unwrap_or(x.len())..]
    }
    let (a, b) = (trim(a), trim(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Frees the handles of session keys and wipes everything in them:
/// counters, MAC keys, the extra key, the used flags.
///
/// # Safety
/// `sess` is NULL or session keys whose handles are NULL or libotr-rs
/// objects.
#[no_mangle]
pub unsafe extern "C" fn otrl_dh_session_free(sess: *mut DH_sesskeys) {
    guard((), || {
        // SAFETY: per the contract.
        if let Some(s) = unsafe { sess.as_mut() } {
            dh_session_clear(s);
        }
    })
}

/// Zeroes session keys (counters, MAC keys, extra key, used flags) and
/// sets their handles to NULL without freeing them: for fresh memory, as
/// in 4.1.1. Use [`otrl_dh_session_free`] on keys in use.
///
/// # Safety
/// `sess` is NULL or writable memory for a `DH_sesskeys`.
#[no_mangle]
pub unsafe extern "C" fn otrl_dh_session_blank(sess: *mut DH_sesskeys) {
    guard((), || {
        if sess.is_null() {
            return;
        }
        // SAFETY: writable per the contract; all-zero is the blank state
        // (NULL handles, zero counters and keys).
        unsafe { core::ptr::write_bytes(sess, 0, 1) };
    })
}

/// Increments the top half of a 16-byte counter block: its first 8 bytes
/// as a big-endian number, wrapping from all-ones to zero. The lower 8
/// bytes are untouched.
///
/// # Safety
/// `ctr` is NULL or points to at least 8 writable bytes.
#[no_mangle]
pub unsafe extern "C" fn otrl_dh_incctr(ctr: *mut c_uchar) {
    guard((), || {
        if ctr.is_null() {
            return;
        }
        // SAFETY: 8 writable bytes per the contract.
        let top = unsafe { &mut *ctr.cast::<[u8; 8]>() };
        *top = u64::from_be_bytes(*top).wrapping_add(1).to_be_bytes();
    })
}

/// Compares two 8-byte counters as big-endian numbers: 0 when equal,
/// otherwise the difference of the first differing bytes (negative when
/// `ctr1` is the smaller), as 4.1.1 returns.
///
/// # Safety
/// `ctr1` and `ctr2` point to at least 8 readable bytes each (NULL compares
/// as 0).
#[no_mangle]
pub unsafe extern "C" fn otrl_dh_cmpctr(ctr1: *const c_uchar, ctr2: *const c_uchar) -> c_int {
    guard(0, || {
        if ctr1.is_null() || ctr2.is_null() {
            return 0;
        }
        // SAFETY: 8 readable bytes each per the contract.
        let (a, b) = unsafe { (&*ctr1.cast::<[u8; 8]>(), &*ctr2.cast::<[u8; 8]>()) };
        a.iter()
            .zip(b)
            .map(|(&x, &y)| c_int::from(x) - c_int::from(y))
            .find(|&d| d != 0)
            .unwrap_or(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcry::{cipher_ref, mac_ref};

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Private exponents of otr-core's PAIR1; the expected values below
    /// were printed by libotr 4.1.1 for these keys.
    const A_PRIV: &str =
        "5f9e8655070f21fdf18a26082291094e067d1151aa9ff725886b8875463fc1f7f2f62e9c5db7313c";
    const B_PRIV: &str =
        "64718bcbc5dc26614036fc7e070b851e66bd6c09230035b0536e93df1e3c3bae5540c35d2f65acd6";

    fn pair(x: &str) -> DH_keypair {
        let mut kp = DH_keypair {
            groupid: 0,
            r#priv: null_mut(),
            r#pub: null_mut(),
        };
        dh_keypair_set(&mut kp, &DhKeyPair::from_private(&unhex(x)).unwrap());
        kp
    }

    #[test]
    fn keys_match_libotr() {
        let (mut a, mut b) = (pair(A_PRIV), pair(B_PRIV));
        let mut id = [0u8; 20];
        let (mut len, mut half) = (0usize, 9 as OtrlSessionIdHalf);
        // SAFETY: test values of the sizes and kinds the functions expect.
        unsafe {
            assert_eq!(
                otrl_dh_compute_v1_session_id(&a, b.r#pub, id.as_mut_ptr(), &mut len, &mut half),
                0
            );
            assert_eq!(
                (hex(&id), len, half),
                ("0083b13d2d3b9eda15efac14285213fc35531738".into(), 20, 0)
            );
            assert_eq!(
                otrl_dh_compute_v1_session_id(&b, a.r#pub, id.as_mut_ptr(), &mut len, &mut half),
                0
            );
            assert_eq!(half, 1);
            let mut h = [null_mut(); 6];
            let [c, cp, m1, m1p, m2, m2p] = &mut h;
            assert_eq!(
                otrl_dh_compute_v2_auth_keys(
                    &a,
                    b.r#pub,
                    id.as_mut_ptr(),
                    &mut len,
                    c,
                    cp,
                    m1,
                    m1p,
                    m2,
                    m2p
                ),
                0
            );
            assert_eq!((hex(&id[..8]), len), ("639d1e0286a685d1".into(), 8));
            assert_eq!(cipher_ref(h[0]).map(|k| k.key.len()), Some(16));
            assert!(mac_ref(h[2]).is_some_and(|k| k.algo == MacAlgo::Sha256 && k.key.len() == 32));
            assert!(cipher_ref(h[2]).is_none() && mac_ref(h[0]).is_none());
            cipher_slot_clear(&mut h[0]);
            cipher_slot_clear(&mut h[1]);
            for m in &mut h[2..] {
                md_slot_clear(m);
            }
            let mut s = core::mem::MaybeUninit::<DH_sesskeys>::uninit();
            assert_eq!(otrl_dh_session(s.as_mut_ptr(), &a, b.r#pub), 0);
            let mut s = s.assume_init();
            assert_eq!(
                hex(&s.sendmackey),
                "0b1b302799af80b6ebf92dfe897a8d5a623d885e"
            );
            assert_eq!(
                hex(&s.extrakey),
                "b84e798a7e327c3681cfc0f10ea50600acfea39958d348cc0c4c9e2ecde2315a"
            );
            assert!(mac_ref(s.sendmac)
                .is_some_and(|k| k.algo == MacAlgo::Sha1 && *k.key == s.sendmackey));
            otrl_dh_session_free(&mut s);
            assert!(s.sendenc.is_null() && s.rcvmac.is_null() && s.extrakey == [0; 32]);
            // Their value 1 is refused (4.1.1 derives keys from it).
            let one = mpi_new(&[1]);
            assert_eq!(otrl_dh_session(&mut s, &a, one), inv_value());
            mpi_free(one);
        }
        dh_keypair_clear(&mut a);
        dh_keypair_clear(&mut b);
        assert!(a.r#priv.is_null() && a.r#pub.is_null() && a.groupid == 5);
    }

    #[test]
    fn keypairs() {
        // SAFETY: test values of the sizes and kinds the functions expect.
        unsafe {
            let mut kp = core::mem::MaybeUninit::<DH_keypair>::uninit();
            otrl_dh_keypair_init(kp.as_mut_ptr());
            let mut kp = kp.assume_init();
            assert_eq!(otrl_dh_gen_keypair(4, &mut kp), inv_value());
            assert!(kp.groupid == 0 && kp.r#priv.is_null());
            assert_eq!(otrl_dh_gen_keypair(5, &mut kp), 0);
            assert_eq!(mpi_ref(kp.r#priv).unwrap().bytes.len(), PRIVATE_LEN);
            let mut copy = core::mem::MaybeUninit::<DH_keypair>::uninit();
            otrl_dh_keypair_copy(copy.as_mut_ptr(), &kp);
            let mut copy = copy.assume_init();
            assert_ne!(copy.r#pub, kp.r#pub);
            let pair = dh_keypair_get(&copy).unwrap();
            assert_eq!(*mpi_ref(kp.r#pub).unwrap().bytes, pair.public_bytes());
            otrl_dh_keypair_free(&mut copy);
            otrl_dh_keypair_free(&mut kp);
            assert_eq!(kp.groupid, 5);
            assert!(dh_keypair_get(&kp).is_none());
            // A foreign pointer in a slot is never taken for a number.
            let mut junk = [0u64; 4];
            assert!(mpi_ref(junk.as_mut_ptr().cast()).is_none());
            mpi_free(junk.as_mut_ptr().cast());
        }
    }

    #[test]
    fn counters() {
        let mut ctr = [0u8; 16];
        ctr[6] = 0xff;
        ctr[7] = 0xff;
        ctr[8] = 0xee;
        // SAFETY: test values of the sizes and kinds the functions expect.
        unsafe { otrl_dh_incctr(ctr.as_mut_ptr()) };
        assert_eq!(ctr[..9], [0, 0, 0, 0, 0, 1, 0, 0, 0xee]);
        let mut ctr = [0xffu8; 16];
        // SAFETY: test values of the sizes and kinds the functions expect.
        unsafe { otrl_dh_incctr(ctr.as_mut_ptr()) };
        assert_eq!(ctr[..8], [0; 8]);
        assert_eq!(ctr[8..], [0xff; 8]);
        // SAFETY: test values of the sizes and kinds the functions expect.
        let c = |a: [u8; 8], b: [u8; 8]| unsafe { otrl_dh_cmpctr(a.as_ptr(), b.as_ptr()) };
        assert_eq!(c([0, 0, 0, 0, 0, 0, 0, 5], [0, 0, 0, 0, 0, 0, 0, 9]), -4);
        assert_eq!(
            c([1, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0xff, 0xff]),
            1
        );
        assert_eq!(
            c([0, 0, 0, 0, 0, 0, 0, 5], [0xff, 0, 0, 0, 0, 0, 0, 0]),
            -255
        );
        assert_eq!(c([7; 8], [7; 8]), 0);
    }
}
