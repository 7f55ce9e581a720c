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

use core::ffi::c_void;
use core::ptr::{addr_of_mut, null_mut};

use otr_core::ake::{Auth, AuthState, Outcome};
use otr_core::crypto::dh::is_valid_public;
use otr_core::crypto::kdf::AkeKeys;
use otr_core::crypto::symmetric::{aes128_ctr, ct_eq, sha256};
use otr_core::error::{code, OtrError};
use otr_core::wire::{
    self, DhCommit, DhKey, RevealSignature, Signature, MSGTYPE_DH_COMMIT, MSGTYPE_DH_KEY,
    MSGTYPE_REVEALSIG, MSGTYPE_SIGNATURE,
};
use zeroize::{Zeroize, Zeroizing};

use crate::context::ConnContext;
use crate::dh::{
    ake_handles, cipher_slot_clear, dh_keypair_clear, dh_keypair_set, magnitude_cmp, md_slot_clear,
    mpi_slot_clear, OtrlSessionIdHalfValues,
};
use crate::ffi::{bytes, free, guard, malloc_copy, malloc_cstring};
use crate::gcry::{gcry_error_t, mpi_clone, mpi_new, mpi_ref};
use crate::privkey_t::OtrlPrivKey;

const NONE: OtrlAuthState = OtrlAuthStateValues::OTRL_AUTHSTATE_NONE as OtrlAuthState;
const AWAITING_DHKEY: OtrlAuthState =
    OtrlAuthStateValues::OTRL_AUTHSTATE_AWAITING_DHKEY as OtrlAuthState;
const AWAITING_REVEALSIG: OtrlAuthState =
    OtrlAuthStateValues::OTRL_AUTHSTATE_AWAITING_REVEALSIG as OtrlAuthState;
const AWAITING_SIG: OtrlAuthState =
    OtrlAuthStateValues::OTRL_AUTHSTATE_AWAITING_SIG as OtrlAuthState;

fn inv_value() -> gcry_error_t {
    OtrError::libotr(code::INV_VALUE).value()
}

/// Frees the six AKE key handles and sets them to NULL.
fn clear_handles(auth: &mut OtrlAuthInfo) {
    cipher_slot_clear(&mut auth.enc_c);
    cipher_slot_clear(&mut auth.enc_cp);
    md_slot_clear(&mut auth.mac_m1);
    md_slot_clear(&mut auth.mac_m1p);
    md_slot_clear(&mut auth.mac_m2);
    md_slot_clear(&mut auth.mac_m2p);
}

/// Returns an AKE state to NONE, freeing what it holds (4.1.1's
/// `otrl_auth_clear`): no keys, no commitment, no last message, protocol
/// version 0. As in 4.1.1, the context pointer, the key pair's group id
/// and `session_id_half` stay.
pub(crate) fn auth_clear(auth: &mut OtrlAuthInfo) {
    auth.authstate = NONE;
    dh_keypair_clear(&mut auth.our_dh);
    auth.our_keyid = 0;
    // SAFETY: encgx and lastauthmsg are NULL or malloc'd by this library.
    unsafe {
        free(auth.encgx);
        free(auth.lastauthmsg);
    }
    auth.encgx = null_mut();
    auth.encgx_len = 0;
    auth.lastauthmsg = null_mut();
    auth.r.zeroize();
    auth.hashgx.zeroize();
    mpi_slot_clear(&mut auth.their_pub);
    auth.their_keyid = 0;
    clear_handles(auth);
    auth.their_fingerprint.zeroize();
    auth.initiated = 0;
    auth.protocol_version = 0;
    auth.secure_session_id.zeroize();
    auth.secure_session_id_len = 0;
    auth.commit_sent_time = 0;
}

/// The engine's version number for a C protocol version: 3, or 2 for
/// anything else (messages then get a 3-byte header, patched by
/// [`set_header_version`]).
fn engine_version(pv: c_uint) -> u16 {
    if pv == 3 {
        3
    } else {
        2
    }
}

/// Writes the low byte of `pv` as the header's version, as 4.1.1 builds
/// headers from `auth->protocol_version` (which may be anything an
/// application passed); v3 headers are already right.
fn set_header_version(msg: &mut [u8], pv: c_uint) {
    if pv != 3 && msg.len() > 1 {
        msg[1] = pv as u8;
    }
}

/// Replaces a malloc'd byte buffer (and its length) unless it already
/// holds `data`; an empty `data` gives NULL.
///
/// # Safety
/// `*p` is NULL or a malloc'd block of `*len` bytes.
unsafe fn set_buffer(p: &mut *mut c_uchar, len: &mut usize, data: &[u8]) {
    // SAFETY: per the contract.
    unsafe {
        if !p.is_null() && *len == data.len() && core::slice::from_raw_parts(*p, *len) == data {
            return;
        }
        free(*p);
        *p = if data.is_empty() {
            null_mut()
        } else {
            malloc_copy(data)
        };
        *len = data.len();
    }
}

/// Sets the last AKE message to the `?OTR:` form of `msg` (NULL for None),
/// keeping the same buffer when the text is unchanged.
///
/// # Safety
/// `auth.lastauthmsg` is NULL or a malloc'd C string.
unsafe fn set_lastauthmsg(auth: &mut OtrlAuthInfo, msg: Option<&[u8]>) {
    let text = msg.map(wire::otr_encode);
    // SAFETY: per the contract.
    unsafe {
        if let (Some(t), Some(old)) = (&text, bytes(auth.lastauthmsg)) {
            if old == t.as_slice() {
                return;
            }
        }
        free(auth.lastauthmsg);
        auth.lastauthmsg = match &text {
            Some(t) => malloc_cstring(t),
            None => null_mut(),
        };
    }
}

/// Sets an MPI slot to `value` unless it already holds that number.
fn set_mpi(slot: &mut crate::gcry::gcry_mpi_t, value: &[u8]) {
    // SAFETY: slots of the library's structs hold NULL or live objects.
    if let Some(m) = unsafe { mpi_ref(*slot) } {
        if magnitude_cmp(&m.bytes, value).is_eq() {
            return;
        }
    }
    mpi_slot_clear(slot);
    *slot = mpi_new(value);
}

/// Copies the engine's view of an exchange into the C struct: the state,
/// our key pair and key id, the commitment (encgx, hashgx, r), their public
/// value, `initiated` and the last message. Our key pair is left as it is
/// when the engine no longer holds one (it moves out when an exchange
/// completes); the protocol version, the session id, fingerprint and key
/// handles are set by the steps that compute them.
///
/// # Safety
/// The pointer and object fields of `auth` are NULL or this library's.
pub(crate) unsafe fn mirror(auth: &mut OtrlAuthInfo, a: &Auth) {
    auth.authstate = a.state as OtrlAuthState;
    if let Some(pair) = a.our_dh() {
        // SAFETY: slots hold NULL or live objects.
        let same = unsafe { mpi_ref(auth.our_dh.r#pub) }
            .is_some_and(|p| magnitude_cmp(&p.bytes, &pair.public_bytes()).is_eq());
        if !same || auth.our_dh.r#priv.is_null() {
            dh_keypair_set(&mut auth.our_dh, pair);
        }
    }
    auth.our_keyid = a.our_keyid;
    // SAFETY: per the contract.
    unsafe { set_buffer(&mut auth.encgx, &mut auth.encgx_len, &a.encgx) };
    auth.r = *a.r();
    auth.hashgx = a.hashgx;
    match a.their_public() {
        Some(y) => set_mpi(&mut auth.their_pub, y),
        None => mpi_slot_clear(&mut auth.their_pub),
    }
    auth.initiated = c_int::from(a.initiated);
    // SAFETY: per the contract.
    unsafe { set_lastauthmsg(auth, a.last_message.as_deref()) };
}

/// Sets the session id (8 bytes, rest zero) and the six key handles from
/// the AKE keys.
fn set_ake_keys(auth: &mut OtrlAuthInfo, keys: &AkeKeys) {
    auth.secure_session_id = [0; 20];
    auth.secure_session_id[..8].copy_from_slice(&keys.ssid);
    auth.secure_session_id_len = 8;
    clear_handles(auth);
    (
        auth.enc_c,
        auth.enc_cp,
        auth.mac_m1,
        auth.mac_m1p,
        auth.mac_m2,
        auth.mac_m2p,
    ) = ake_handles(keys);
}

/// The engine's exchange behind a context, with its instance tags and
/// protocol version taken from the C structs.
///
/// # Safety
/// `ctx` is NULL or a live context made by this library; the result is not
/// held across a call into application code.
unsafe fn engine<'a>(ctx: *mut ConnContext, pv: c_uint) -> Option<&'a mut Auth> {
    // SAFETY: per the contract; fields are read through the raw pointer.
    unsafe {
        if ctx.is_null() || (*ctx).context_priv.is_null() {
            return None;
        }
        let a = &mut crate::context_priv::session_of((*ctx).context_priv).auth;
        a.our_instance = (*ctx).our_instance;
        a.their_instance = (*ctx).their_instance;
        a.version = engine_version(pv);
        Some(a)
    }
}

/// The binary form of an AKE message given as `?OTR:...` text.
///
/// # Safety
/// `msg` is NULL or a NUL-terminated string.
unsafe fn decode(msg: *const c_char) -> Option<Vec<u8>> {
    // SAFETY: per the contract.
    let text = unsafe { bytes(msg) }?;
    wire::otr_decode(text).ok()
}

/// Checks the header of an AKE message as 4.1.1 does and rewrites it in the
/// engine's form. The version must be 1, 2 or 3 and the type `msg_type`;
/// instance tags follow when `with_tags` says so, or (None) when the version
/// is 3. Returns the version and the message with a canonical v2/v3 header.
fn canonical(bin: &[u8], msg_type: u8, with_tags: Option<bool>) -> Option<(u8, Vec<u8>)> {
    if bin.len() < 3 || bin[0] != 0 || !(1..=3).contains(&bin[1]) || bin[2] != msg_type {
        return None;
    }
    let tags = with_tags.unwrap_or(bin[1] == 3);
    let mut out = Vec::with_capacity(bin.len() + 8);
    if tags {
        if bin.len() < 11 {
            return None;
        }
        out.extend_from_slice(&[0, 3, msg_type]);
        out.extend_from_slice(&bin[3..]);
    } else {
        out.extend_from_slice(&[0, 2, msg_type]);
        out.extend_from_slice(&bin[3..]);
    }
    Some((bin[1], out))
}

/// The signing key of a private key for the AKE.
///
/// # Safety
/// `privkey` is NULL or a live key of a user state.
unsafe fn signing_key(
    privkey: *const OtrlPrivKey,
) -> Result<otr_core::crypto::dsa::DsaPrivateKey, gcry_error_t> {
    if privkey.is_null() {
        return Err(inv_value());
    }
    // SAFETY: per the contract.
    unsafe { crate::privkey::signing_key(privkey) }
}

/// Initialises the AKE state of `context` (its `auth` field): state NONE,
/// no keys, no messages, and `auth.context` pointing back at `context`.
/// The engine's exchange of the context is reset too.
///
/// As in 4.1.1, nothing in the struct is read or freed first (what a live
/// exchange held leaks; call [`otrl_auth_clear`] for that) and
/// `session_id_half` is not set. A NULL `context` is ignored.
///
/// # Safety
/// `context` is NULL or a context made by this library (its `auth` may be
/// uninitialised).
#[no_mangle]
pub unsafe extern "C" fn otrl_auth_new(context: *mut ConnContext) {
    guard((), || {
        if context.is_null() {
            return;
        }
        // SAFETY: per the contract; every field is written without being
        // read, through raw pointers.
        unsafe {
            let a = addr_of_mut!((*context).auth);
            addr_of_mut!((*a).authstate).write(NONE);
            addr_of_mut!((*a).context).write(context);
            addr_of_mut!((*a).our_dh).write(DH_keypair {
                groupid: 0,
                r#priv: null_mut(),
                r#pub: null_mut(),
            });
            addr_of_mut!((*a).our_keyid).write(0);
            addr_of_mut!((*a).encgx).write(null_mut());
            addr_of_mut!((*a).encgx_len).write(0);
            addr_of_mut!((*a).r).write([0; 16]);
            addr_of_mut!((*a).hashgx).write([0; 32]);
            addr_of_mut!((*a).their_pub).write(null_mut());
            addr_of_mut!((*a).their_keyid).write(0);
            addr_of_mut!((*a).enc_c).write(null_mut());
            addr_of_mut!((*a).enc_cp).write(null_mut());
            addr_of_mut!((*a).mac_m1).write(null_mut());
            addr_of_mut!((*a).mac_m1p).write(null_mut());
            addr_of_mut!((*a).mac_m2).write(null_mut());
            addr_of_mut!((*a).mac_m2p).write(null_mut());
            addr_of_mut!((*a).their_fingerprint).write([0; 20]);
            addr_of_mut!((*a).initiated).write(0);
            addr_of_mut!((*a).protocol_version).write(0);
            addr_of_mut!((*a).secure_session_id).write([0; 20]);
            addr_of_mut!((*a).secure_session_id_len).write(0);
            addr_of_mut!((*a).lastauthmsg).write(null_mut());
            addr_of_mut!((*a).commit_sent_time).write(0);
            if let Some(e) = engine(context, 0) {
                e.clear();
            }
        }
    })
}

/// Abandons any exchange in progress: frees the key pair, their public
/// value, the key handles, the commitment and the last message, zeroes the
/// rest and returns to NONE with protocol version 0. The context pointer,
/// the key pair's group id and `session_id_half` stay, as in 4.1.1.
///
/// # Safety
/// `auth` is NULL or the `auth` field of a context made by this library.
#[no_mangle]
pub unsafe extern "C" fn otrl_auth_clear(auth: *mut OtrlAuthInfo) {
    guard((), || {
        // SAFETY: per the contract.
        unsafe {
            let Some(a) = auth.as_mut() else { return };
            auth_clear(a);
            if let Some(e) = engine(a.context, 0) {
                e.clear();
            }
        }
    })
}

/// Starts an AKE of protocol `version` (2 or 3): forgets any exchange in
/// progress, makes a fresh D-H key pair and leaves the D-H Commit message
/// to send in `auth->lastauthmsg` (state AWAITING_DHKEY, `initiated` 1).
/// `auth->protocol_version` and the context's `protocol_version` become
/// `version`; v3 messages carry the context's instance tags.
///
/// As in 4.1.1, another `version` is taken as given: its low byte goes
/// into the header, without instance tags. `GPG_ERR_INV_VALUE` for a NULL
/// `auth` or one without a context (4.1.1 crashes).
///
/// # Safety
/// `auth` is NULL or the `auth` field of a context made by this library.
#[no_mangle]
pub unsafe extern "C" fn otrl_auth_start_v23(
    auth: *mut OtrlAuthInfo,
    version: c_int,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract; no reference is held across a callback.
        unsafe {
            let Some(a) = auth.as_mut() else {
                return inv_value();
            };
            let ctx = a.context;
            let pv = version as c_uint;
            let Some(e) = engine(ctx, pv) else {
                return inv_value();
            };
            auth_clear(a);
            a.protocol_version = pv;
            (*ctx).protocol_version = pv;
            let mut msg = e.start(engine_version(pv));
            set_header_version(&mut msg, pv);
            e.last_message = Some(msg);
            mirror(a, e);
            0
        }
    })
}

/// Handles a D-H Commit message (`?OTR:` text) of protocol `version`.
/// Unless an error is returned, `auth->lastauthmsg` holds the message to
/// send: a D-H Key (a fresh key pair; state AWAITING_REVEALSIG), or in
/// AWAITING_REVEALSIG the same D-H Key again (their new commitment is
/// kept). `auth->protocol_version` and the context's become `version` once
/// the text decodes. `GPG_ERR_INV_VALUE` for a malformed message.
///
/// Difference from 4.1.1: in AWAITING_DHKEY (both sides committed), the
/// side whose hash of g^x is larger keeps its commitment and resends its D-H
/// Commit, as the OTR specification says; 4.1.1 always gives up its own,
/// which stalls the exchange when both sides do so.
///
/// # Safety
/// `auth` is NULL or the `auth` field of a context made by this library;
/// `commitmsg` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn otrl_auth_handle_commit(
    auth: *mut OtrlAuthInfo,
    commitmsg: *const c_char,
    version: c_int,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract.
        unsafe {
            let Some(a) = auth.as_mut() else {
                return inv_value();
            };
            let ctx = a.context;
            let pv = version as c_uint;
            let Some(e) = engine(ctx, pv) else {
                return inv_value();
            };
            let Some(bin) = decode(commitmsg) else {
                return inv_value();
            };
            a.protocol_version = pv;
            (*ctx).protocol_version = pv;
            let parsed = canonical(&bin, MSGTYPE_DH_COMMIT, Some(pv == 3))
                .and_then(|(_, c)| DhCommit::parse(&c).ok());
            let Some(commit) = parsed else {
                return inv_value();
            };
            let before = e.state;
            e.handle_commit(engine_version(pv), &commit);
            if e.state == AuthState::AwaitingRevealSig && before != AuthState::AwaitingRevealSig {
                // A new exchange answering theirs: nothing of ours is kept.
                auth_clear(a);
                a.protocol_version = pv;
                if let Some(m) = e.last_message.as_mut() {
                    set_header_version(m, pv);
                }
            }
            mirror(a, e);
            0
        }
    })
}

/// Handles a D-H Key message, signing with `privkey`. In AWAITING_DHKEY it
/// stores their public value, computes the AKE keys (session id, key
/// handles) and leaves a Reveal Signature in `auth->lastauthmsg` with
/// `*havemsgp` 1 (state AWAITING_SIG). In AWAITING_SIG the same D-H Key
/// again gets the same Reveal Signature (`*havemsgp` 1). Otherwise, or for
/// a message whose version is not `auth->protocol_version`, it is ignored
/// (`*havemsgp` 0, result 0).
///
/// Errors: `GPG_ERR_INV_VALUE` for a malformed message, for a public value
/// outside 2..p-2 (which stays in `their_pub`, as in 4.1.1) and for a NULL
/// `auth`, context or `privkey`; the key's error when it cannot sign.
///
/// # Safety
/// `auth` is NULL or the `auth` field of a context made by this library;
/// `keymsg` is NULL or a NUL-terminated string; `havemsgp` is NULL or
/// writable; `privkey` is NULL or a key of a user state.
#[no_mangle]
pub unsafe extern "C" fn otrl_auth_handle_key(
    auth: *mut OtrlAuthInfo,
    keymsg: *const c_char,
    havemsgp: *mut c_int,
    privkey: *mut OtrlPrivKey,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract.
        unsafe {
            if let Some(h) = havemsgp.as_mut() {
                *h = 0;
            }
            let Some(a) = auth.as_mut() else {
                return inv_value();
            };
            let pv = a.protocol_version;
            let Some(e) = engine(a.context, pv) else {
                return inv_value();
            };
            let parsed = decode(keymsg)
                .and_then(|b| canonical(&b, MSGTYPE_DH_KEY, None))
                .and_then(|(v, c)| Some((v, DhKey::parse(&c).ok()?)));
            let Some((msg_version, key)) = parsed else {
                return inv_value();
            };
            if c_uint::from(msg_version) != pv {
                return 0;
            }
            match e.state {
                AuthState::AwaitingDhKey => {
                    set_mpi(&mut a.their_pub, &key.gy);
                    clear_handles(a);
                    if !is_valid_public(&key.gy) {
                        return inv_value();
                    }
                    let sk = match signing_key(privkey) {
                        Ok(k) => k,
                        Err(err) => return err,
                    };
                    match e.handle_key(&key, &sk) {
                        Err(err) => err.value(),
                        Ok(out) => {
                            if let Some(m) = e.last_message.as_mut() {
                                set_header_version(m, pv);
                            }
                            mirror(a, e);
                            if let Some(keys) = e.keys() {
                                set_ake_keys(a, keys);
                            }
                            if matches!(out, Outcome::Send(_)) {
                                if let Some(h) = havemsgp.as_mut() {
                                    *h = 1;
                                }
                            }
                            0
                        }
                    }
                }
                AuthState::AwaitingSig => {
                    let same = e
                        .their_public()
                        .is_some_and(|t| magnitude_cmp(t, &key.gy).is_eq());
                    if same {
                        mirror(a, e);
                        if let Some(h) = havemsgp.as_mut() {
                            *h = 1;
                        }
                    }
                    0
                }
                AuthState::None | AuthState::AwaitingRevealSig => 0,
            }
        }
    })
}

/// Calls the application's `auth_succeeded` (when not NULL) with the
/// completed exchange.
///
/// # Safety
/// `auth` is live and no Rust reference into it or into the engine is held.
unsafe fn succeeded(
    auth: *mut OtrlAuthInfo,
    f: Option<unsafe extern "C" fn(*const OtrlAuthInfo, *mut c_void) -> gcry_error_t>,
    asdata: *mut c_void,
) -> gcry_error_t {
    match f {
        // SAFETY: application callback with a live struct.
        Some(f) => unsafe { f(auth, asdata) },
        None => 0,
    }
}

/// Handles a Reveal Signature message, signing our answer with `privkey`.
/// In AWAITING_REVEALSIG it keeps the revealed r in `auth->r`, opens their
/// g^x (ignoring the message, result 0, when it does not match the
/// commitment), computes the AKE keys, checks their signature and leaves a
/// Signature message in `auth->lastauthmsg` with `*havemsgp` 1. Then
/// `auth_succeeded(auth, asdata)` is called (unless NULL) with their
/// public value, our key pair, the session id (second half bold), their
/// fingerprint and key id filled in, and afterwards the state is NONE and
/// `our_keyid` 0, as in 4.1.1. A non-zero result of the callback is
/// returned. In any other state the message is ignored (result 0).
///
/// Errors: `GPG_ERR_INV_VALUE` for a malformed message, a bad MAC or
/// encrypted part, a bad public value, or a NULL `auth`, context or
/// `privkey`; the libgcrypt-coded `GPG_ERR_BAD_SIGNATURE` for a signature
/// that does not verify.
///
/// # Safety
/// As [`otrl_auth_handle_key`]; `auth_succeeded` is NULL or a function
/// taking `asdata`.
#[no_mangle]
pub unsafe extern "C" fn otrl_auth_handle_revealsig(
    auth: *mut OtrlAuthInfo,
    revealmsg: *const c_char,
    havemsgp: *mut c_int,
    privkey: *mut OtrlPrivKey,
    auth_succeeded: Option<unsafe extern "C" fn(*const OtrlAuthInfo, *mut c_void) -> gcry_error_t>,
    asdata: *mut c_void,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract; the references into the struct and the
        // engine end before the callback and are taken anew after it.
        unsafe {
            if let Some(h) = havemsgp.as_mut() {
                *h = 0;
            }
            let Some(a) = auth.as_mut() else {
                return inv_value();
            };
            let pv = a.protocol_version;
            let ctx = a.context;
            let Some(e) = engine(ctx, pv) else {
                return inv_value();
            };
            let parsed = decode(revealmsg)
                .and_then(|b| canonical(&b, MSGTYPE_REVEALSIG, None))
                .and_then(|(_, c)| RevealSignature::parse(&c).ok());
            let Some(reveal) = parsed else {
                return inv_value();
            };
            if e.state != AuthState::AwaitingRevealSig {
                return 0;
            }
            let Ok(r) = <[u8; 16]>::try_from(reveal.revealed_key.as_slice()) else {
                return inv_value();
            };
            a.r = r;
            let mut gx_mpi = Zeroizing::new(e.encgx.clone());
            aes128_ctr(&r, &[0; 8], &mut gx_mpi);
            if !ct_eq(&sha256(&[&gx_mpi]), &e.hashgx) {
                return 0;
            }
            let sk = match signing_key(privkey) {
                Ok(k) => k,
                Err(err) => return err,
            };
            let ours = e.our_dh().cloned();
            match e.handle_revealsig(&reveal, &sk) {
                Err(err) => {
                    // 4.1.1 has their value, the session id and the key
                    // handles by the time the signed part is checked.
                    let gx = gx_mpi.get(4..).filter(|g| is_valid_public(g));
                    if let (Some(gx), Some(ours)) = (gx, ours) {
                        set_mpi(&mut a.their_pub, gx);
                        if let Ok(keys) = AkeKeys::compute(&ours, gx) {
                            set_ake_keys(a, &keys);
                        }
                    }
                    err.value()
                }
                Ok(Outcome::Done { established, .. }) => {
                    if let Some(m) = e.last_message.as_mut() {
                        set_header_version(m, pv);
                    }
                    mirror(a, e);
                    let Ok(keys) = AkeKeys::compute(&established.our_dh, &established.their_dh)
                    else {
                        return inv_value();
                    };
                    set_ake_keys(a, &keys);
                    a.authstate = AWAITING_REVEALSIG;
                    a.r = r;
                    a.our_keyid = established.our_keyid;
                    a.their_fingerprint = established.their_fingerprint;
                    a.their_keyid = established.their_keyid;
                    a.session_id_half = OtrlSessionIdHalfValues::OTRL_SESSIONID_SECOND_HALF_BOLD
                        as OtrlSessionIdHalf;
                    if let Some(h) = havemsgp.as_mut() {
                        *h = 1;
                    }
                    let ret = succeeded(auth, auth_succeeded, asdata);
                    finish(auth, false);
                    ret
                }
                Ok(_) => {
                    mirror(a, e);
                    0
                }
            }
        }
    })
}

/// After `auth_succeeded`: state NONE and our key id 0, as 4.1.1 leaves
/// them; the initiator also forgets its last message.
///
/// # Safety
/// `auth` is NULL or the `auth` field of a live context of this library.
unsafe fn finish(auth: *mut OtrlAuthInfo, forget_last: bool) {
    // SAFETY: per the contract.
    unsafe {
        let Some(a) = auth.as_mut() else { return };
        a.authstate = NONE;
        a.our_keyid = 0;
        if let Some(e) = engine(a.context, a.protocol_version) {
            e.our_keyid = 0;
            if forget_last {
                e.last_message = None;
            }
        }
        if forget_last {
            set_lastauthmsg(a, None);
        }
    }
}

/// Handles a Signature message. In AWAITING_SIG it checks their signature,
/// fills in their fingerprint and key id (the session id, from the D-H
/// Key step, gets the first half bold) and calls `auth_succeeded(auth,
/// asdata)` (unless NULL); afterwards the state is NONE, `our_keyid` 0 and
/// `lastauthmsg` NULL, as in 4.1.1. A non-zero result of the callback is
/// returned. `*havemsgp` is always 0: nothing is left to send. In any
/// other state the message is ignored (result 0).
///
/// Errors: `GPG_ERR_INV_VALUE` for a malformed message, a bad MAC or
/// encrypted part, or a NULL `auth` or context; the libgcrypt-coded
/// `GPG_ERR_BAD_SIGNATURE` for a signature that does not verify.
///
/// # Safety
/// `auth` is NULL or the `auth` field of a context made by this library;
/// `sigmsg` is NULL or a NUL-terminated string; `havemsgp` is NULL or
/// writable; `auth_succeeded` is NULL or a function taking `asdata`.
#[no_mangle]
pub unsafe extern "C" fn otrl_auth_handle_signature(
    auth: *mut OtrlAuthInfo,
    sigmsg: *const c_char,
    havemsgp: *mut c_int,
    auth_succeeded: Option<unsafe extern "C" fn(*const OtrlAuthInfo, *mut c_void) -> gcry_error_t>,
    asdata: *mut c_void,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract; the references end before the callback.
        unsafe {
            if let Some(h) = havemsgp.as_mut() {
                *h = 0;
            }
            let Some(a) = auth.as_mut() else {
                return inv_value();
            };
            let Some(e) = engine(a.context, a.protocol_version) else {
                return inv_value();
            };
            let parsed = decode(sigmsg)
                .and_then(|b| canonical(&b, MSGTYPE_SIGNATURE, None))
                .and_then(|(_, c)| Signature::parse(&c).ok());
            let Some(sig) = parsed else {
                return inv_value();
            };
            if e.state != AuthState::AwaitingSig {
                return 0;
            }
            match e.handle_signature(&sig) {
                Err(err) => err.value(),
                Ok(Outcome::Done { established, .. }) => {
                    set_mpi(&mut a.their_pub, &established.their_dh);
                    a.secure_session_id = [0; 20];
                    a.secure_session_id[..8].copy_from_slice(&established.session_id);
                    a.secure_session_id_len = 8;
                    a.their_fingerprint = established.their_fingerprint;
                    a.their_keyid = established.their_keyid;
                    a.session_id_half = OtrlSessionIdHalfValues::OTRL_SESSIONID_FIRST_HALF_BOLD
                        as OtrlSessionIdHalf;
                    a.authstate = AWAITING_SIG;
                    let ret = succeeded(auth, auth_succeeded, asdata);
                    finish(auth, true);
                    ret
                }
                Ok(_) => 0,
            }
        }
    })
}

/// Hands a master context's D-H Commit in flight to one of its instances
/// (`auth`), which received the D-H Key answering it. Only when `m_auth`
/// is in AWAITING_DHKEY or AWAITING_SIG: `auth` gets copies of the key
/// pair and key id, r, the encrypted and hashed g^x and `initiated`, and
/// goes to AWAITING_DHKEY; its other fields (protocol version, last
/// message, ...) stay, as in 4.1.1. The engine's exchange of the instance's
/// context follows.
///
/// Difference from 4.1.1: `encgx_len` is copied too (4.1.1 leaves the
/// instance's old length next to the copied buffer), and the instance's
/// old key pair and buffer are freed rather than leaked.
///
/// # Safety
/// `m_auth` and `auth` are NULL or `auth` fields of contexts made by this
/// library.
#[no_mangle]
pub unsafe extern "C" fn otrl_auth_copy_on_key(m_auth: *mut OtrlAuthInfo, auth: *mut OtrlAuthInfo) {
    guard((), || {
        // SAFETY: per the contract; the two structs are distinct (checked).
        unsafe {
            if m_auth.is_null() || auth.is_null() || m_auth == auth {
                return;
            }
            let (m, a) = (&*m_auth, &mut *auth);
            if m.authstate != AWAITING_DHKEY && m.authstate != AWAITING_SIG {
                return;
            }
            a.initiated = m.initiated;
            dh_keypair_clear(&mut a.our_dh);
            a.our_dh = DH_keypair {
                groupid: m.our_dh.groupid,
                r#priv: mpi_clone(m.our_dh.r#priv),
                r#pub: mpi_clone(m.our_dh.r#pub),
            };
            a.our_keyid = m.our_keyid;
            a.r = m.r;
            let encgx = if m.encgx.is_null() {
                &[][..]
            } else {
                core::slice::from_raw_parts(m.encgx, m.encgx_len)
            };
            set_buffer(&mut a.encgx, &mut a.encgx_len, encgx);
            a.hashgx = m.hashgx;
            a.authstate = AWAITING_DHKEY;
            let (m_ctx, ctx) = (m.context, a.context);
            if m_ctx.is_null() || ctx.is_null() || m_ctx == ctx {
                return;
            }
            let Some(master) = engine(m_ctx, m.protocol_version) else {
                return;
            };
            let mut copy = master.clone_for_instance((*ctx).our_instance, (*ctx).their_instance);
            let Some(child) = engine(ctx, a.protocol_version) else {
                return;
            };
            copy.state = AuthState::AwaitingDhKey;
            copy.version = child.version;
            copy.last_message = child.last_message.take();
            *child = copy;
        }
    })
}

/// The type byte of an OTR v1 Key Exchange message.
const V1_KEYEXCH: u8 = 0x0a;

const V1_SETUP: OtrlAuthState = OtrlAuthStateValues::OTRL_AUTHSTATE_V1_SETUP as OtrlAuthState;

/// A parsed OTR v1 Key Exchange message.
struct V1KeyExchange {
    reply: u8,
    their_key: otr_core::crypto::dsa::DsaPublicKey,
    keyid: u32,
    y: Vec<u8>,
}

/// Parses a v1 Key Exchange (`00 01 0a`, the reply flag, their DSA key as
/// four MPIs, their key id, their D-H value as an MPI, a 40-byte
/// signature) and checks its signature over the SHA-1 of everything before
/// it. Errors: `GPG_ERR_INV_VALUE` for a malformed message, the
/// libgcrypt-coded `GPG_ERR_BAD_SIGNATURE` for a bad signature.
fn parse_v1(bin: &[u8]) -> Result<V1KeyExchange, gcry_error_t> {
    use otr_core::crypto::dsa::{DsaPublicKey, SIGNATURE_LEN};
    let inv = inv_value();
    let rest = bin.strip_prefix(&[0, 1, V1_KEYEXCH][..]).ok_or(inv)?;
    let (&reply, rest) = rest.split_first().ok_or(inv)?;
    let mut typed = Vec::with_capacity(2 + rest.len());
    typed.extend_from_slice(&[0, 0]);
    typed.extend_from_slice(rest);
    let (their_key, used) = DsaPublicKey::parse(&typed).map_err(|e| e.value())?;
    let rest = &rest[used - 2..];
    let (keyid, rest) = rest.split_first_chunk::<4>().ok_or(inv)?;
    let (len, rest) = rest.split_first_chunk::<4>().ok_or(inv)?;
    let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| inv)?;
    if rest.len() != len.checked_add(SIGNATURE_LEN).ok_or(inv)? {
        return Err(inv);
    }
    let (y, sig) = rest.split_at(len);
    let signed = &bin[..bin.len() - SIGNATURE_LEN];
    their_key
        .verify_libotr(sig, &otr_core::crypto::sha1(signed))
        .map_err(|e| e.value())?;
    Ok(V1KeyExchange {
        reply,
        their_key,
        keyid: u32::from_be_bytes(*keyid),
        y: y.to_vec(),
    })
}

/// Our v1 Key Exchange (`reply` 0 or 1) from our key pair and key id in
/// `auth`, signed with `sk`, into `auth->lastauthmsg`.
///
/// # Safety
/// The slots of `auth` hold NULL or this library's objects.
unsafe fn send_v1(
    auth: &mut OtrlAuthInfo,
    sk: &otr_core::crypto::dsa::DsaPrivateKey,
    reply: u8,
) -> Result<(), gcry_error_t> {
    // SAFETY: per the contract.
    let ours = unsafe { mpi_ref(auth.our_dh.r#pub) }.ok_or(inv_value())?;
    let mut msg = vec![0, 1, V1_KEYEXCH, reply];
    msg.extend_from_slice(&sk.public().serialize()[2..]);
    msg.extend_from_slice(&auth.our_keyid.to_be_bytes());
    msg.extend_from_slice(&otr_core::crypto::dh::mpi(&ours.bytes));
    let sig = sk
        .sign(&otr_core::crypto::sha1(&msg))
        .map_err(|e| e.value())?;
    msg.extend_from_slice(&sig);
    // SAFETY: per the contract.
    unsafe { set_lastauthmsg(auth, Some(&msg)) };
    Ok(())
}

/// Takes `our_dh` (a copy, with `our_keyid`) or, when NULL, a fresh key
/// pair with key id 1 as the exchange's key pair.
///
/// # Safety
/// `our_dh` is NULL or a key pair holding NULL or this library's objects.
unsafe fn take_v1_keypair(auth: &mut OtrlAuthInfo, our_dh: *const DH_keypair, our_keyid: c_uint) {
    dh_keypair_clear(&mut auth.our_dh);
    // SAFETY: per the contract.
    match unsafe { our_dh.as_ref() } {
        Some(kp) => {
            auth.our_dh = DH_keypair {
                groupid: kp.groupid,
                // SAFETY: per the contract.
                r#priv: unsafe { mpi_clone(kp.r#priv) },
                // SAFETY: per the contract.
                r#pub: unsafe { mpi_clone(kp.r#pub) },
            };
            auth.our_keyid = our_keyid;
        }
        None => {
            dh_keypair_set(
                &mut auth.our_dh,
                &otr_core::crypto::dh::DhKeyPair::generate(),
            );
            auth.our_keyid = 1;
        }
    }
}

/// Starts an OTR v1 key exchange: forgets any exchange in progress, takes
/// a copy of `our_dh` with `our_keyid` (or, when `our_dh` is NULL, a fresh
/// key pair with key id 1) and leaves the Key Exchange message, signed with
/// `privkey`, in `auth->lastauthmsg`. The state becomes V1_SETUP,
/// `initiated` 1 and `auth->protocol_version` 1 (the context's protocol
/// version is not touched, as in 4.1.1).
///
/// OTR v1 lives in the C struct only: the engine's exchange of the context
/// is reset, and libotr-rs's message layer, like 4.1.1's, never starts or
/// answers v1. `GPG_ERR_INV_VALUE` for a NULL `auth` or `privkey` (4.1.1
/// crashes), or a given key pair without numbers.
///
/// # Safety
/// `auth` is NULL or the `auth` field of a context made by this library;
/// `our_dh` is NULL or a key pair holding NULL or this library's objects;
/// `privkey` is NULL or a key of a user state.
#[no_mangle]
pub unsafe extern "C" fn otrl_auth_start_v1(
    auth: *mut OtrlAuthInfo,
    our_dh: *mut DH_keypair,
    our_keyid: c_uint,
    privkey: *mut OtrlPrivKey,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract.
        unsafe {
            let Some(a) = auth.as_mut() else {
                return inv_value();
            };
            let sk = match signing_key(privkey) {
                Ok(k) => k,
                Err(err) => return err,
            };
            auth_clear(a);
            if let Some(e) = engine(a.context, 0) {
                e.clear();
            }
            a.initiated = 1;
            a.protocol_version = 1;
            take_v1_keypair(a, our_dh, our_keyid);
            if let Err(err) = send_v1(a, &sk, 0) {
                return err;
            }
            a.authstate = V1_SETUP;
            0
        }
    })
}

/// Handles an OTR v1 Key Exchange message. Its signature is checked first
/// (nothing changes when it fails). A first message (not a reply) is
/// answered: outside V1_SETUP the exchange starts afresh with a copy of
/// `our_dh` and `our_keyid` (or a fresh key pair, key id 1), in V1_SETUP
/// our own key pair is kept; the reply, signed with `privkey`, is left in
/// `auth->lastauthmsg` with `*havemsgp` 1. A reply completes the exchange
/// in V1_SETUP and is ignored elsewhere. On completion their public value,
/// key id and fingerprint, protocol version 1 and the 20-byte v1 session
/// id (with its bold half) are filled in and `auth_succeeded(auth,
/// asdata)` is called (unless NULL); afterwards the state is NONE and
/// `our_keyid` 0, as in 4.1.1. A non-zero result of the callback is
/// returned.
///
/// Errors: `GPG_ERR_INV_VALUE` for a malformed message, a D-H value outside
/// 2..p-2, or a NULL `auth` (or `privkey` when a reply is due); the
/// libgcrypt-coded `GPG_ERR_BAD_SIGNATURE` for a bad signature.
///
/// # Safety
/// `auth` is NULL or the `auth` field of a context made by this library;
/// `keyexchmsg` is NULL or a NUL-terminated string; `havemsgp` is NULL or
/// writable; `privkey` is NULL or a key of a user state; `our_dh` is NULL
/// or a key pair holding NULL or this library's objects; `auth_succeeded`
/// is NULL or a function taking `asdata`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn otrl_auth_handle_v1_key_exchange(
    auth: *mut OtrlAuthInfo,
    keyexchmsg: *const c_char,
    havemsgp: *mut c_int,
    privkey: *mut OtrlPrivKey,
    our_dh: *mut DH_keypair,
    our_keyid: c_uint,
    auth_succeeded: Option<unsafe extern "C" fn(*const OtrlAuthInfo, *mut c_void) -> gcry_error_t>,
    asdata: *mut c_void,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract; the reference into the struct ends
        // before the callback.
        unsafe {
            if let Some(h) = havemsgp.as_mut() {
                *h = 0;
            }
            let Some(a) = auth.as_mut() else {
                return inv_value();
            };
            let Some(bin) = decode(keyexchmsg) else {
                return inv_value();
            };
            let kx = match parse_v1(&bin) {
                Ok(kx) => kx,
                Err(err) => return err,
            };
            let in_setup = a.authstate == V1_SETUP;
            if kx.reply != 0 && !in_setup {
                return 0;
            }
            let sk = if kx.reply == 0 {
                match signing_key(privkey) {
                    Ok(k) => Some(k),
                    Err(err) => return err,
                }
            } else {
                None
            };
            if kx.reply == 0 && !in_setup {
                auth_clear(a);
                if let Some(e) = engine(a.context, 0) {
                    e.clear();
                }
                take_v1_keypair(a, our_dh, our_keyid);
            }
            let Some(pair) = crate::dh::dh_keypair_get(&a.our_dh) else {
                return inv_value();
            };
            let Ok(secret) = pair.shared_secret(&kx.y) else {
                return inv_value();
            };
            let our_pub = mpi_ref(a.our_dh.r#pub)
                .map(|p| p.bytes.to_vec())
                .unwrap_or_else(|| pair.public_bytes());
            let (id, half) = crate::dh::v1_session_id(&secret, &our_pub, &kx.y);
            if let Some(sk) = &sk {
                if let Err(err) = send_v1(a, sk, 1) {
                    return err;
                }
                if let Some(h) = havemsgp.as_mut() {
                    *h = 1;
                }
            }
            set_mpi(&mut a.their_pub, &kx.y);
            a.their_keyid = kx.keyid;
            a.their_fingerprint = kx.their_key.fingerprint();
            a.protocol_version = 1;
            a.secure_session_id = id;
            a.secure_session_id_len = id.len();
            a.session_id_half = half;
            let ret = succeeded(auth, auth_succeeded, asdata);
            finish(auth, false);
            ret
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v1 Key Exchange made by libotr 4.1.1's `otrl_auth_start_v1`.
    const LIBOTR_V1: &str = concat!(
        "?OTR:AAEKAAAAAICw5aAJ98gyJS2LUypkSzfOfpN/95op/THfci6/WzMeoAEn8POjZ2XS1HihJSQmI7pkoy7agP9Mc",
        "lntONg6FWGAqSo37Kt+GlioJlOuIiJfIS/90ejRPFNIG888YCFro41rBJdSlEXopGYEd5UuaqeL4cfcG8+Rq8DjAtF",
        "1tYkfswAAABSZVF91+/LvmN9/ma/WN3XqZfAd4QAAAIAi5f8ec71EBwWCGfYOUyBvOtFeyXp861/1haTP8wdXSBw0N",
        "9iSxi5QLg/FNRuaFfkmvmDReX/+lYK72fQgDkj6caOeG+HXBxjr0eGonY5P9Uk9aOq1EtnPcM1xxjBbjvOGBCTF3JX",
        "PD9wGcaEB5NdRyrY3RwJRldsU8AA32lzONgAAAIBXfH7TS6brqH6ncaX+nIus+/8/VlKgyc0GOuWjJzlCjAF+9J+Jz",
        "e6+Ga2Vrh67H1CTXUYrEExND1PXii6LiagYqkdZ8MKvlQVxA8Q5pwtO2NGNHRqnOY31qh1dEhG3efewcpccGkLlYIk",
        "Gezqlo6ynBrqJK/zRJ+I9EkBdJgw3EwAAAAEAAADAakfCJUIw2GWSGfaVi4pJl6w45xpFHj7Q8QvpFe3F0q+uc490J",
        "7RBOPx4PPHGrZqr1CWreUmQ1w4rs1s6C7iWfAaJq8SzDzI0FtMnkXMl1RtRf8GnzYa+FYfqzL9bAF2gdbOw81OkHnr",
        "gq50r5yUgYXV3T+LYW3omErJF1O0EOAoQacqRGTb/1MRw1deA3UrHuL8ipZvJlSnOBqnpqiQHwBSns8PuY6/ZKWD97",
        "TVAxCJldUETqK93LpdYwmn6xPPGiaVYH8WXn6A5l/rvViL0DbIsfsmY8P7RzsxqBmd28B0MSP7aPP6yIw==."
    );

    #[test]
    fn reads_libotr_v1_key_exchange() {
        let mut bin = wire::otr_decode(LIBOTR_V1.as_bytes()).unwrap();
        let kx = parse_v1(&bin).unwrap();
        assert_eq!((kx.reply, kx.keyid, kx.y.len()), (0, 1, 192));
        assert!(is_valid_public(&kx.y));
        // Our own messages have the same layout and verify the same way.
        let sk = otr_core::crypto::dsa::DsaPrivateKey::generate();
        let mut ours = vec![0, 1, V1_KEYEXCH, 1];
        ours.extend_from_slice(&sk.public().serialize()[2..]);
        ours.extend_from_slice(&7u32.to_be_bytes());
        ours.extend_from_slice(&otr_core::crypto::dh::mpi(&kx.y));
        let sig = sk.sign(&otr_core::crypto::sha1(&ours)).unwrap();
        ours.extend_from_slice(&sig);
        let kx2 = parse_v1(&ours).unwrap();
        assert_eq!((kx2.reply, kx2.keyid), (1, 7));
        assert_eq!(kx2.their_key.fingerprint(), sk.public().fingerprint());
        // The signature covers the reply flag; a trailing byte is malformed.
        ours[3] = 0;
        assert_eq!(
            parse_v1(&ours).err(),
            Some(OtrError::gcrypt(code::BAD_SIGNATURE).value())
        );
        bin.push(0);
        assert_eq!(parse_v1(&bin).err(), Some(inv_value()));
        assert_eq!(parse_v1(&bin[..3]).err(), Some(inv_value()));
    }

    #[test]
    fn headers() {
        assert_eq!(canonical(&[0, 3, 2], 2, None), None);
        assert_eq!(
            canonical(&[0, 1, 2, 9], 2, None),
            Some((1, vec![0, 2, 2, 9]))
        );
        let tagged = [0, 2, 0x0a, 0, 0, 1, 1, 0, 0, 2, 2, 5];
        assert_eq!(
            canonical(&tagged, 0x0a, Some(true)).unwrap().1[..3],
            [0, 3, 0x0a]
        );
        assert_eq!(
            canonical(&tagged, 0x0a, Some(false)).unwrap().1[..3],
            [0, 2, 0x0a]
        );
        assert_eq!(canonical(&[0, 4, 2, 0], 2, None), None);
        assert_eq!(canonical(&[1, 3, 2, 0], 2, None), None);
        let mut m = vec![0, 2, 0x12, 7];
        set_header_version(&mut m, 0x105);
        assert_eq!(m, [0, 5, 0x12, 7]);
    }
}
