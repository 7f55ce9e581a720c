//! `message.h`: the application callbacks and the message entry points.

use core::ffi::{c_char, c_int, c_uchar, c_uint, c_ushort, c_void};

use crate::context::ConnContext;
use crate::gcry::gcry_error_t;
use crate::proto::OtrlPolicy;
use crate::userstate::OtrlUserState;

/// Error codes passed to `otr_error_message`.
pub type OtrlErrorCode = c_uint;

/// Values of [`OtrlErrorCode`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OtrlErrorCodeValues {
    OTRL_ERRCODE_NONE = 0,
    OTRL_ERRCODE_ENCRYPTION_ERROR = 1,
    OTRL_ERRCODE_MSG_NOT_IN_PRIVATE = 2,
    OTRL_ERRCODE_MSG_UNREADABLE = 3,
    OTRL_ERRCODE_MSG_MALFORMED = 4,
}

/// Events passed to `handle_smp_event`.
pub type OtrlSMPEvent = c_uint;

/// Values of [`OtrlSMPEvent`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OtrlSMPEventValues {
    OTRL_SMPEVENT_NONE = 0,
    OTRL_SMPEVENT_ERROR = 1,
    OTRL_SMPEVENT_ABORT = 2,
    OTRL_SMPEVENT_CHEATED = 3,
    OTRL_SMPEVENT_ASK_FOR_ANSWER = 4,
    OTRL_SMPEVENT_ASK_FOR_SECRET = 5,
    OTRL_SMPEVENT_IN_PROGRESS = 6,
    OTRL_SMPEVENT_SUCCESS = 7,
    OTRL_SMPEVENT_FAILURE = 8,
}

/// Events passed to `handle_msg_event`.
pub type OtrlMessageEvent = c_uint;

/// Values of [`OtrlMessageEvent`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OtrlMessageEventValues {
    OTRL_MSGEVENT_NONE = 0,
    OTRL_MSGEVENT_ENCRYPTION_REQUIRED = 1,
    OTRL_MSGEVENT_ENCRYPTION_ERROR = 2,
    OTRL_MSGEVENT_CONNECTION_ENDED = 3,
    OTRL_MSGEVENT_SETUP_ERROR = 4,
    OTRL_MSGEVENT_MSG_REFLECTED = 5,
    OTRL_MSGEVENT_MSG_RESENT = 6,
    OTRL_MSGEVENT_RCVDMSG_NOT_IN_PRIVATE = 7,
    OTRL_MSGEVENT_RCVDMSG_UNREADABLE = 8,
    OTRL_MSGEVENT_RCVDMSG_MALFORMED = 9,
    OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD = 10,
    OTRL_MSGEVENT_LOG_HEARTBEAT_SENT = 11,
    OTRL_MSGEVENT_RCVDMSG_GENERAL_ERR = 12,
    OTRL_MSGEVENT_RCVDMSG_UNENCRYPTED = 13,
    OTRL_MSGEVENT_RCVDMSG_UNRECOGNIZED = 14,
    OTRL_MSGEVENT_RCVDMSG_FOR_OTHER_INSTANCE = 15,
}

/// Notification levels, kept for source compatibility (4.x never uses them).
pub type OtrlNotifyLevel = c_uint;

/// Values of [`OtrlNotifyLevel`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OtrlNotifyLevelValues {
    OTRL_NOTIFY_ERROR = 0,
    OTRL_NOTIFY_WARNING = 1,
    OTRL_NOTIFY_INFO = 2,
}

/// The direction passed to `convert_msg`.
pub type OtrlConvertType = c_uint;

/// Values of [`OtrlConvertType`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OtrlConvertTypeValues {
    OTRL_CONVERT_SENDING = 0,
    OTRL_CONVERT_RECEIVING = 1,
}

/// The 24 application callbacks, in 4.1.1's order; any of them may be NULL.
#[repr(C)]
pub struct s_OtrlMessageAppOps {
    pub policy: Option<unsafe extern "C" fn(*mut c_void, *mut ConnContext) -> OtrlPolicy>,
    pub create_privkey: Option<unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char)>,
    pub is_logged_in: Option<
        unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *const c_char) -> c_int,
    >,
    pub inject_message: Option<
        unsafe extern "C" fn(
            *mut c_void,
            *const c_char,
            *const c_char,
            *const c_char,
            *const c_char,
        ),
    >,
    pub update_context_list: Option<unsafe extern "C" fn(*mut c_void)>,
    pub new_fingerprint: Option<
        unsafe extern "C" fn(
            *mut c_void,
            OtrlUserState,
            *const c_char,
            *const c_char,
            *const c_char,
            *mut c_uchar,
        ),
    >,
    pub write_fingerprints: Option<unsafe extern "C" fn(*mut c_void)>,
    pub gone_secure: Option<unsafe extern "C" fn(*mut c_void, *mut ConnContext)>,
    pub gone_insecure: Option<unsafe extern "C" fn(*mut c_void, *mut ConnContext)>,
    pub still_secure: Option<unsafe extern "C" fn(*mut c_void, *mut ConnContext, c_int)>,
    pub max_message_size: Option<unsafe extern "C" fn(*mut c_void, *mut ConnContext) -> c_int>,
    pub account_name:
        Option<unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char) -> *const c_char>,
    pub account_name_free: Option<unsafe extern "C" fn(*mut c_void, *const c_char)>,
    pub received_symkey: Option<
        unsafe extern "C" fn(
            *mut c_void,
            *mut ConnContext,
            c_uint,
            *const c_uchar,
            usize,
            *const c_uchar,
        ),
    >,
    pub otr_error_message:
        Option<unsafe extern "C" fn(*mut c_void, *mut ConnContext, OtrlErrorCode) -> *const c_char>,
    pub otr_error_message_free: Option<unsafe extern "C" fn(*mut c_void, *const c_char)>,
    pub resent_msg_prefix:
        Option<unsafe extern "C" fn(*mut c_void, *mut ConnContext) -> *const c_char>,
    pub resent_msg_prefix_free: Option<unsafe extern "C" fn(*mut c_void, *const c_char)>,
    pub handle_smp_event: Option<
        unsafe extern "C" fn(*mut c_void, OtrlSMPEvent, *mut ConnContext, c_ushort, *mut c_char),
    >,
    pub handle_msg_event: Option<
        unsafe extern "C" fn(
            *mut c_void,
            OtrlMessageEvent,
            *mut ConnContext,
            *const c_char,
            gcry_error_t,
        ),
    >,
    pub create_instag: Option<unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char)>,
    pub convert_msg: Option<
        unsafe extern "C" fn(
            *mut c_void,
            *mut ConnContext,
            OtrlConvertType,
            *mut *mut c_char,
            *const c_char,
        ),
    >,
    pub convert_free: Option<unsafe extern "C" fn(*mut c_void, *mut ConnContext, *mut c_char)>,
    pub timer_control: Option<unsafe extern "C" fn(*mut c_void, c_uint)>,
}

/// The libotr name of [`s_OtrlMessageAppOps`].
pub type OtrlMessageAppOps = s_OtrlMessageAppOps;

/// Frees a string the library returned (`*messagep`, `*newmessagep`, the
/// default query message). It is libc `free()`, as applications rely on:
/// some pass their own `strdup`/`g_malloc` buffers here.
///
/// # Safety
/// `message` is NULL or a pointer obtained from libc `malloc` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn otrl_message_free(message: *mut c_char) {
    // SAFETY: the caller passes NULL or a live malloc'd pointer; free(NULL) is a no-op.
    unsafe { libc::free(message.cast()) }
}

use core::ptr::null_mut;

use otr_core::ake::{AuthState, Outcome};
use otr_core::error::{code, OtrError};
use otr_core::session::Secured;
use otr_core::wire::{self, MessageType};

use crate::context::{
    otrl_context_find, otrl_context_find_fingerprint, otrl_context_force_finished,
    otrl_context_force_plaintext, otrl_context_update_recent_child, AddAppData,
    OtrlMessageStateValues,
};
use crate::context_priv::session_of;
use crate::ffi::{bytes, guard, malloc_cstring};
use crate::instag::{otrl_instag_find, otrl_instag_t, OTRL_INSTAG_MASTER, OTRL_MIN_VALID_INSTAG};
use crate::privkey::otrl_privkey_find;
use crate::proto::{
    OtrlFragmentPolicy, OtrlFragmentPolicyValues, OTRL_MSGFLAGS_IGNORE_UNREADABLE,
    OTRL_POLICY_ALLOW_V2, OTRL_POLICY_ALLOW_V3, OTRL_POLICY_DEFAULT, OTRL_POLICY_ERROR_START_AKE,
    OTRL_POLICY_REQUIRE_ENCRYPTION, OTRL_POLICY_SEND_WHITESPACE_TAG, OTRL_POLICY_VERSION_MASK,
    OTRL_POLICY_WHITESPACE_START_AKE,
};
use crate::tlv::{otrl_tlv_find, otrl_tlv_free, OtrlTLV, OTRL_TLV_DISCONNECTED, OTRL_TLV_SYMKEY};

/// Seconds between the application's calls to [`otrl_message_poll`].
const POLL_DEFAULT_INTERVAL: c_uint = 70;
/// Seconds an unanswered v3 D-H Commit from a master context is kept.
const MAX_AKE_WAIT_TIME: i64 = 60;
/// Seconds of silence after which receiving a message sends a heartbeat.
const HEARTBEAT_INTERVAL: i64 = 60;
/// Seconds within which the last message is resent after a new AKE.
const RESEND_INTERVAL: i64 = 60;

const PLAINTEXT: c_uint = OtrlMessageStateValues::OTRL_MSGSTATE_PLAINTEXT as c_uint;
const ENCRYPTED: c_uint = OtrlMessageStateValues::OTRL_MSGSTATE_ENCRYPTED as c_uint;
const FINISHED: c_uint = OtrlMessageStateValues::OTRL_MSGSTATE_FINISHED as c_uint;

fn now() -> i64 {
    // SAFETY: time(NULL) only reads the clock; libotr reads it the same way.
    unsafe { libc::time(null_mut()) }
}

/// The application's callbacks, any of which may be missing.
#[derive(Clone, Copy)]
pub(crate) struct Ops {
    ops: *const OtrlMessageAppOps,
    opdata: *mut c_void,
}

/// A NUL-terminated copy for handing to C.
fn cstring(bytes: &[u8]) -> Vec<u8> {
    let text = wire::c_str(bytes);
    let mut v = Vec::with_capacity(text.len() + 1);
    v.extend_from_slice(text);
    v.push(0);
    v
}

impl Ops {
    fn get(&self) -> Option<&OtrlMessageAppOps> {
        // SAFETY: ops is NULL or the application's callback table, alive for
        // the duration of the library call.
        unsafe { self.ops.as_ref() }
    }

    fn policy(&self, ctx: *mut ConnContext) -> OtrlPolicy {
        match self.get().and_then(|o| o.policy) {
            // SAFETY: application callback with a live context.
            Some(f) => unsafe { f(self.opdata, ctx) },
            None => OTRL_POLICY_DEFAULT,
        }
    }

    fn inject(&self, ctx: *mut ConnContext, msg: &[u8]) {
        if let Some(f) = self.get().and_then(|o| o.inject_message) {
            let m = cstring(msg);
            // SAFETY: ctx is live; its name strings are C strings; m is
            // NUL-terminated and outlives the call.
            unsafe {
                let c = &*ctx;
                f(
                    self.opdata,
                    c.accountname,
                    c.protocol,
                    c.username,
                    m.as_ptr().cast(),
                );
            }
        }
    }

    /// [`Ops::inject`] for a message that already is a C string.
    fn inject_c(&self, ctx: *mut ConnContext, msg: *const c_char) {
        if let Some(f) = self.get().and_then(|o| o.inject_message) {
            // SAFETY: ctx is live; its name strings and msg are C strings
            // that outlive the call.
            unsafe {
                let c = &*ctx;
                f(self.opdata, c.accountname, c.protocol, c.username, msg);
            }
        }
    }

    fn has_inject(&self) -> bool {
        self.get().is_some_and(|o| o.inject_message.is_some())
    }

    fn msg_event(
        &self,
        ev: OtrlMessageEventValues,
        ctx: *mut ConnContext,
        msg: Option<&[u8]>,
        err: gcry_error_t,
    ) {
        if let Some(f) = self.get().and_then(|o| o.handle_msg_event) {
            let m = msg.map(cstring);
            let p = m.as_ref().map_or(core::ptr::null(), |m| m.as_ptr().cast());
            // SAFETY: application callback; p is NULL or a live C string.
            unsafe { f(self.opdata, ev as OtrlMessageEvent, ctx, p, err) };
        }
    }

    fn update_context_list(&self) {
        if let Some(f) = self.get().and_then(|o| o.update_context_list) {
            // SAFETY: application callback.
            unsafe { f(self.opdata) };
        }
    }

    fn max_message_size(&self, ctx: *mut ConnContext) -> usize {
        match self.get().and_then(|o| o.max_message_size) {
            // SAFETY: application callback with a live context.
            Some(f) => usize::try_from(unsafe { f(self.opdata, ctx) }).unwrap_or(0),
            None => 0,
        }
    }

    /// `"?OTR Error: "` followed by the application's text for `code`.
    fn error_text(&self, ctx: *mut ConnContext, code: OtrlErrorCodeValues) -> Option<Vec<u8>> {
        let o = self.get()?;
        let f = o.otr_error_message?;
        // SAFETY: application callback; the result is NULL or a C string
        // the application frees with its own free callback.
        unsafe {
            let text = f(self.opdata, ctx, code as OtrlErrorCode);
            let mut out = b"?OTR Error: ".to_vec();
            out.extend_from_slice(bytes(text).unwrap_or_default());
            if let (Some(free_fn), false) = (o.otr_error_message_free, text.is_null()) {
                free_fn(self.opdata, text);
            }
            Some(out)
        }
    }

    fn timer_control(&self, interval: c_uint) {
        if let Some(f) = self.get().and_then(|o| o.timer_control) {
            // SAFETY: application callback.
            unsafe { f(self.opdata, interval) };
        }
    }
}

/// The engine state of a context.
///
/// # Safety
/// `ctx` is a live context made by this library; the result is not held
/// across a call into application code.
unsafe fn session<'a>(ctx: *mut ConnContext) -> &'a mut otr_core::session::Session {
    // SAFETY: per the contract.
    unsafe { session_of((*ctx).context_priv) }
}

/// Copies the engine's view of the AKE into the C-visible `auth` fields.
///
/// # Safety
/// `ctx` is a live context.
unsafe fn sync_auth(ctx: *mut ConnContext) {
    // SAFETY: per the contract.
    unsafe {
        let s = session(ctx);
        let c = &mut *ctx;
        let a = &s.auth;
        c.auth.authstate = a.state as c_uint;
        c.auth.our_keyid = a.our_keyid;
        c.auth.initiated = c_int::from(a.initiated);
        c.auth.protocol_version = c_uint::from(a.version);
        c.auth.hashgx = a.hashgx;
        crate::ffi::free(c.auth.lastauthmsg);
        c.auth.lastauthmsg = match &a.last_message {
            Some(m) => malloc_cstring(&wire::otr_encode(m)),
            None => null_mut(),
        };
    }
}

/// Splits `msg` as the network allows and injects the pieces, returning
/// through `ret` what `policy` says the caller sends itself (4.1.1's
/// `fragment_and_send`).
///
/// # Safety
/// `ctx` is a live context; `ret` is NULL or writable.
unsafe fn fragment_and_send(
    ops: Ops,
    ctx: *mut ConnContext,
    msg: &[u8],
    policy: OtrlFragmentPolicy,
    ret: *mut *mut c_char,
) -> gcry_error_t {
    if !ops.has_inject() {
        return 0;
    }
    let skip = policy == OtrlFragmentPolicyValues::OTRL_FRAGMENT_SEND_SKIP as c_uint;
    // SEND_SKIP hands the whole message back, however long: the
    // application sends it its own way.
    let mms = if skip { 0 } else { ops.max_message_size(ctx) };
    // SAFETY: ctx is live.
    let (version, ours, theirs) = unsafe {
        (
            (*ctx).protocol_version,
            (*ctx).our_instance,
            (*ctx).their_instance,
        )
    };
    let send_all = policy == OtrlFragmentPolicyValues::OTRL_FRAGMENT_SEND_ALL as c_uint;
    let msg = wire::c_str(msg);
    if !otr_core::fragment::needs_fragmenting(mms, msg.len()) {
        // One piece: injected, or handed back whole (libotr copies it into
        // `*ret`; when `*ret` already is this message nothing changes).
        if send_all {
            // SAFETY: *ret is NULL or a C string made by this library.
            match unsafe { ret.as_ref() } {
                Some(&r) if unsafe { bytes(r) } == Some(msg) => ops.inject_c(ctx, r),
                _ => ops.inject(ctx, msg),
            }
        } else if let Some(r) = unsafe { ret.as_mut() } {
            // SAFETY: *r is NULL or a malloc'd C string made by this library.
            if unsafe { bytes(*r) } != Some(msg) {
                unsafe { crate::ffi::free(*r) };
                *r = malloc_cstring(msg);
            }
        }
        return 0;
    }
    let pieces = match otr_core::fragment::fragment_create(mms, version, ours, theirs, msg) {
        Ok(p) => p,
        Err(e) => return e.value(),
    };
    let last = pieces.len() - 1;
    let keep_first = policy == OtrlFragmentPolicyValues::OTRL_FRAGMENT_SEND_ALL_BUT_FIRST as c_uint;
    let keep_last = policy == OtrlFragmentPolicyValues::OTRL_FRAGMENT_SEND_ALL_BUT_LAST as c_uint;
    let hand_back = |piece: &[u8]| {
        if let Some(r) = unsafe { ret.as_mut() } {
            // SAFETY: *r is NULL or a message this call made; replaced here.
            unsafe { crate::ffi::free(*r) };
            *r = malloc_cstring(piece);
        }
    };
    for (i, piece) in pieces.iter().enumerate() {
        if (i == 0 && keep_first) || (i == last && keep_last) {
            hand_back(piece);
        } else {
            ops.inject(ctx, piece);
        }
    }
    0
}

/// Sends the AKE's latest message, or reports a failed AKE step (4.1.1's
/// `send_or_error_auth`).
///
/// # Safety
/// `us` and `ctx` are live.
unsafe fn send_or_error_auth(
    ops: Ops,
    us: OtrlUserState,
    ctx: *mut ConnContext,
    err: gcry_error_t,
) {
    // SAFETY: per the contract.
    unsafe {
        sync_auth(ctx);
        if err != 0 {
            ops.msg_event(
                OtrlMessageEventValues::OTRL_MSGEVENT_SETUP_ERROR,
                ctx,
                None,
                err,
            );
            return;
        }
        let Some(msg) = session(ctx).auth.last_message.clone() else {
            return;
        };
        let text = wire::otr_encode(&msg);
        fragment_and_send(
            ops,
            ctx,
            &text,
            OtrlFragmentPolicyValues::OTRL_FRAGMENT_SEND_ALL as c_uint,
            null_mut(),
        );
        let c = &mut *ctx;
        if c.auth.authstate == AuthState::AwaitingDhKey as c_uint
            && c.auth.protocol_version == 3
            && c.m_context == ctx
        {
            c.auth.commit_sent_time = now() as libc::time_t;
            // Through the raw pointer: the callback may re-enter the
            // library with this user state.
            if !us.is_null()
                && (*us).timer_running == 0
                && ops.get().is_some_and(|o| o.timer_control.is_some())
            {
                ops.timer_control(POLL_DEFAULT_INTERVAL);
                (*us).timer_running = 1;
            }
        }
    }
}

/// Gives a (master) context without an instance tag of ours the account's
/// tag, asking the application for one through `create_instag` when the
/// account has none; without any, a fresh random tag that is not stored
/// (4.1.1's receiving does the same, for an application such as profanity
/// that has no `create_instag`). A context that has a tag keeps it, even if
/// the account's tag was forgotten since.
///
/// # Safety
/// `us` and `ctx` are live.
unsafe fn ensure_instag(ops: Ops, us: OtrlUserState, ctx: *mut ConnContext) {
    // SAFETY: per the contract; the context is re-read after the callback.
    unsafe {
        if (*ctx).our_instance != 0 {
            return;
        }
        let (acct, proto) = ((*ctx).accountname, (*ctx).protocol);
        let mut tag = otrl_instag_find(us, acct, proto);
        if tag.is_null() {
            if let Some(f) = ops.get().and_then(|o| o.create_instag) {
                f(ops.opdata, acct, proto);
                tag = otrl_instag_find(us, (*ctx).accountname, (*ctx).protocol);
            }
        }
        (*ctx).our_instance = match tag.as_ref() {
            Some(t) => t.instag,
            None => crate::instag::otrl_instag_get_new(),
        };
    }
}

/// Starts an AKE of `version` in `ctx` and sends the D-H Commit.
///
/// # Safety
/// `us` and `ctx` are live.
unsafe fn start_ake(ops: Ops, us: OtrlUserState, ctx: *mut ConnContext, version: u16) {
    // SAFETY: per the contract.
    unsafe {
        let c = &mut *ctx;
        let s = session(ctx);
        s.auth.our_instance = c.our_instance;
        s.auth.their_instance = c.their_instance;
        s.auth.start(version);
        c.auth.commit_sent_time = 0;
        // Fragments of the AKE use the version being negotiated.
        c.protocol_version = c_uint::from(version);
        send_or_error_auth(ops, us, ctx, 0);
    }
}

/// Serializes a C TLV list for the engine.
///
/// # Safety
/// `tlvs` is NULL or a valid list.
unsafe fn tlv_bytes(tlvs: *const OtrlTLV) -> Vec<u8> {
    // SAFETY: per the contract.
    unsafe {
        let mut out = vec![0u8; crate::tlv::otrl_tlv_seriallen(tlvs)];
        crate::tlv::otrl_tlv_serialize(out.as_mut_ptr(), tlvs);
        out
    }
}

/// Encrypts a data message in `ctx`'s session, returning its `?OTR:` text
/// and the extra symmetric key of the keys used (4.1.1's
/// `otrl_proto_create_data`).
///
/// # Safety
/// `ctx` is live; `tlvs` is NULL or a valid list.
pub(crate) unsafe fn create_data(
    ctx: *mut ConnContext,
    text: &[u8],
    tlvs: *const OtrlTLV,
    flags: u8,
) -> Result<(Vec<u8>, zeroize::Zeroizing<[u8; 32]>), gcry_error_t> {
    // SAFETY: per the contract.
    unsafe {
        let serialized = tlv_bytes(tlvs);
        let s = session(ctx);
        let data = s
            .data
            .as_mut()
            .ok_or(OtrError::libotr(code::INV_VALUE).value())?;
        let text = wire::c_str(text);
        let (msg, key) = data
            .encrypt(text, &serialized, flags)
            .map_err(|e| e.value())?;
        sync_keyids(ctx);
        (*(*ctx).context_priv).lastsent = now() as libc::time_t;
        Ok((wire::otr_encode(&msg), key))
    }
}

/// Copies the session's key ids into the C-visible private fields.
///
/// # Safety
/// `ctx` is live.
unsafe fn sync_keyids(ctx: *mut ConnContext) {
    // SAFETY: per the contract.
    unsafe {
        let p = &mut *(*ctx).context_priv;
        match &session(ctx).data {
            Some(d) => {
                p.our_keyid = d.our_keyid;
                p.their_keyid = d.their_keyid;
            }
            None => {
                p.our_keyid = 0;
                p.their_keyid = 0;
            }
        }
    }
}

/// Takes a completed AKE into the context (4.1.1's `go_encrypted`).
/// Returns whether the context went (or stayed) encrypted with new keys;
/// false means the message that completed the AKE is just dropped.
///
/// # Safety
/// `us` and `ctx` are live.
unsafe fn go_encrypted(
    ops: Ops,
    us: OtrlUserState,
    ctx: *mut ConnContext,
    est: &otr_core::ake::Established,
) -> bool {
    // SAFETY: per the contract; no session reference is held across a
    // callback.
    unsafe {
        let master = (*ctx).m_context;
        let mut fp = est.their_fingerprint;
        let mut added = 0;
        let found = otrl_context_find_fingerprint(master, fp.as_mut_ptr(), 1, &mut added);
        let same = (*ctx).msgstate == ENCRYPTED && (*ctx).active_fingerprint == found;
        let (ours, theirs) = ((*ctx).our_instance, (*ctx).their_instance);
        let secured = session(ctx).establish(est, same, ours, theirs);
        if secured == Secured::Reflected {
            ops.msg_event(
                OtrlMessageEventValues::OTRL_MSGEVENT_MSG_REFLECTED,
                ctx,
                None,
                0,
            );
            return false;
        }
        if added != 0 {
            if let Some(f) = ops.get().and_then(|o| o.new_fingerprint) {
                let c = &*ctx;
                f(
                    ops.opdata,
                    us,
                    c.accountname,
                    c.protocol,
                    c.username,
                    fp.as_mut_ptr(),
                );
            }
            if let Some(f) = ops.get().and_then(|o| o.write_fingerprints) {
                f(ops.opdata);
            }
        }
        let c = &mut *ctx;
        c.sessionid = [0; 20];
        c.sessionid[..8].copy_from_slice(&est.session_id);
        c.sessionid_len = 8;
        c.sessionid_half = est.session_id_half as c_uint;
        c.protocol_version = c_uint::from(est.version);
        c.auth.secure_session_id = c.sessionid;
        c.auth.secure_session_id_len = 8;
        c.auth.session_id_half = c.sessionid_half;
        c.auth.their_fingerprint = est.their_fingerprint;
        c.auth.their_keyid = est.their_keyid;
        let p = &mut *c.context_priv;
        p.generation = p.generation.wrapping_add(1);
        // A fresh session counts as recent traffic: no heartbeat is due yet.
        p.lastsent = now() as libc::time_t;
        c.active_fingerprint = found;
        c.msgstate = ENCRYPTED;
        // After the last use of `c`: it reads the context through `ctx`.
        sync_keyids(ctx);
        ops.update_context_list();
        if secured == Secured::StillSecure {
            if let Some(f) = ops.get().and_then(|o| o.still_secure) {
                f(ops.opdata, ctx, c_int::from(est.initiated));
            }
        } else if let Some(f) = ops.get().and_then(|o| o.gone_secure) {
            f(ops.opdata, ctx);
        }
        true
    }
}

/// After a new session: resends the last message if it was sent recently
/// and may be resent (4.1.1's `maybe_resend`).
///
/// # Safety
/// `ctx` is live.
unsafe fn maybe_resend(ops: Ops, ctx: *mut ConnContext) {
    // SAFETY: per the contract.
    unsafe {
        // A message held before the session existed was kept by the
        // context it was sent through, which in v3 is the master.
        let holder = [ctx, (*ctx).m_context].into_iter().find(|&c| {
            !c.is_null()
                && (*(*c).context_priv).may_retransmit != 0
                && session(c).last_message.is_some()
        });
        let Some(holder) = holder else { return };
        let p = &mut *(*holder).context_priv;
        let may = p.may_retransmit;
        p.may_retransmit = 0;
        if p.lastsent < now() - RESEND_INTERVAL {
            return;
        }
        let Some(last) = session(holder).last_message.clone() else {
            return;
        };
        let resending = may == 1;
        let text: Vec<u8> = if resending {
            let mut t = resent_prefix(ops, ctx);
            t.push(b' ');
            t.extend_from_slice(&last);
            t
        } else {
            last.to_vec()
        };
        if let Ok((msg, _)) = create_data(ctx, &text, core::ptr::null(), 0) {
            fragment_and_send(
                ops,
                ctx,
                &msg,
                OtrlFragmentPolicyValues::OTRL_FRAGMENT_SEND_ALL as c_uint,
                null_mut(),
            );
            otrl_context_update_recent_child(ctx, 1);
            if resending {
                ops.msg_event(
                    OtrlMessageEventValues::OTRL_MSGEVENT_MSG_RESENT,
                    ctx,
                    None,
                    0,
                );
            }
        }
    }
}

/// The application's prefix for resent messages, "[resent]" by default.
///
/// # Safety
/// `ctx` is live.
unsafe fn resent_prefix(ops: Ops, ctx: *mut ConnContext) -> Vec<u8> {
    let Some(o) = ops.get() else {
        return b"[resent]".to_vec();
    };
    let Some(f) = o.resent_msg_prefix else {
        return b"[resent]".to_vec();
    };
    // SAFETY: application callback; its result goes back to its free.
    unsafe {
        let p = f(ops.opdata, ctx);
        let out = bytes(p).unwrap_or(b"[resent]").to_vec();
        if let (Some(free_fn), false) = (o.resent_msg_prefix_free, p.is_null()) {
            free_fn(ops.opdata, p);
        }
        out
    }
}

/// Prepares a message for sending to `recipient` (instance `instag`, a real
/// tag or a meta tag such as `OTRL_INSTAG_BEST`).
///
/// `*messagep` becomes a malloc'd message to send instead of the original
/// (encrypted, tagged with the whitespace tag, a query message under
/// REQUIRE_ENCRYPTION, or `""` after the peer ended the conversation), or
/// stays NULL when the original may go out unchanged. Fragments are
/// injected through `inject_message` as `fragPolicy` says. A non-zero
/// result means "send nothing"; should encryption fail, nothing goes out
/// in the clear.
///
/// # Safety
/// `us` is a valid user state; `ops` is NULL or a callback table;
/// strings are NULL or NUL-terminated; `tlvs` is NULL or a valid list;
/// `messagep` and `contextp` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_message_sending(
    us: OtrlUserState,
    ops: *const OtrlMessageAppOps,
    opdata: *mut c_void,
    accountname: *const c_char,
    protocol: *const c_char,
    recipient: *const c_char,
    instag: otrl_instag_t,
    original_msg: *const c_char,
    tlvs: *mut OtrlTLV,
    messagep: *mut *mut c_char,
    fragPolicy: OtrlFragmentPolicy,
    contextp: *mut *mut ConnContext,
    add_appdata: AddAppData,
    data: *mut c_void,
) -> gcry_error_t {
    let inval = OtrError::libotr(code::INV_VALUE).value();
    guard(inval, || unsafe {
        // SAFETY (whole body): pointers per the contract; no engine
        // reference is held across a callback.
        if let Some(m) = messagep.as_mut() {
            *m = null_mut();
        }
        if let Some(c) = contextp.as_mut() {
            *c = null_mut();
        }
        if us.is_null()
            || accountname.is_null()
            || protocol.is_null()
            || recipient.is_null()
            || original_msg.is_null()
            || messagep.is_null()
        {
            return inval;
        }
        let ops = Ops { ops, opdata };
        if otrl_instag_find(us, accountname, protocol).is_null() {
            if let Some(f) = ops.get().and_then(|o| o.create_instag) {
                f(opdata, accountname, protocol);
            }
        }
        let mut added = 0;
        let ctx = otrl_context_find(
            us,
            recipient,
            accountname,
            protocol,
            instag,
            1,
            &mut added,
            add_appdata,
            data,
        );
        if added != 0 {
            ops.update_context_list();
        }
        if ctx.is_null() {
            return inval;
        }
        if let Some(tag) = otrl_instag_find(us, accountname, protocol).as_ref() {
            if (*ctx).our_instance == 0 {
                (*ctx).our_instance = tag.instag;
            }
        }
        if let Some(c) = contextp.as_mut() {
            *c = ctx;
        }
        let original = bytes(original_msg).unwrap_or_default();
        let mut converted: *mut c_char = null_mut();
        if (*ctx).msgstate == ENCRYPTED {
            if let Some(f) = ops.get().and_then(|o| o.convert_msg) {
                f(
                    opdata,
                    ctx,
                    OtrlConvertTypeValues::OTRL_CONVERT_SENDING as c_uint,
                    &mut converted,
                    original_msg,
                );
            }
        }
        // The application's own string is read in place; a converted one
        // is copied, as it is handed back to the application now.
        let converted_copy;
        let text = match bytes(converted) {
            Some(t) => {
                converted_copy = zeroize::Zeroizing::new(t.to_vec());
                &converted_copy[..]
            }
            None => original,
        };
        if !converted.is_null() {
            if let Some(f) = ops.get().and_then(|o| o.convert_free) {
                f(opdata, ctx, converted);
            }
        }
        let err = prepare_send(ops, us, ctx, text, tlvs, messagep);
        if err != 0 {
            return err;
        }
        // A copy: fragment_and_send may free *messagep, which must not be
        // borrowed while it does.
        if let Some(msg) = bytes(*messagep).map(<[u8]>::to_vec) {
            return fragment_and_send(ops, ctx, &msg, fragPolicy, messagep);
        }
        0
    })
}

/// The state-dependent part of [`otrl_message_sending`].
///
/// # Safety
/// As [`otrl_message_sending`]; `ctx` is live; `messagep` is writable.
unsafe fn prepare_send(
    ops: Ops,
    us: OtrlUserState,
    ctx: *mut ConnContext,
    text: &[u8],
    tlvs: *mut OtrlTLV,
    messagep: *mut *mut c_char,
) -> gcry_error_t {
    let _ = us;
    // SAFETY: per the contract.
    unsafe {
        let policy = ops.policy(ctx);
        if policy & OTRL_POLICY_VERSION_MASK == 0 {
            return 0;
        }
        let c = &mut *ctx;
        let account = bytes(c.accountname).unwrap_or_default();
        if wire::message_type(text) == MessageType::Query {
            *messagep = malloc_cstring(&wire::default_query_msg(account, policy));
            c.otr_offer = crate::context::OtrlOfferValues::OFFER_SENT as c_uint;
            return 0;
        }
        match c.msgstate {
            PLAINTEXT => {
                if policy & OTRL_POLICY_REQUIRE_ENCRYPTION != 0 {
                    ops.msg_event(
                        OtrlMessageEventValues::OTRL_MSGEVENT_ENCRYPTION_REQUIRED,
                        ctx,
                        None,
                        0,
                    );
                    session(ctx).last_message = Some(zeroize::Zeroizing::new(text.to_vec()));
                    let p = &mut *(*ctx).context_priv;
                    p.lastsent = now() as libc::time_t;
                    p.may_retransmit = 2;
                    otrl_context_update_recent_child(ctx, 1);
                    *messagep = malloc_cstring(&wire::default_query_msg(account, policy));
                    (*ctx).otr_offer = crate::context::OtrlOfferValues::OFFER_SENT as c_uint;
                } else if policy & OTRL_POLICY_SEND_WHITESPACE_TAG != 0
                    && c.otr_offer != crate::context::OtrlOfferValues::OFFER_REJECTED as c_uint
                {
                    *messagep = malloc_cstring(&wire::append_whitespace_tag(text, policy));
                    c.otr_offer = crate::context::OtrlOfferValues::OFFER_SENT as c_uint;
                }
                0
            }
            ENCRYPTED => {
                match create_data(ctx, text, tlvs, 0) {
                    Ok((msg, _)) => {
                        otrl_context_update_recent_child(ctx, 1);
                        *messagep = malloc_cstring(&msg);
                        remember_last(ctx, text);
                        (*(*ctx).context_priv).may_retransmit = 0;
                    }
                    Err(err) => {
                        *messagep = malloc_cstring(b"");
                        ops.msg_event(
                            OtrlMessageEventValues::OTRL_MSGEVENT_ENCRYPTION_ERROR,
                            ctx,
                            None,
                            err,
                        );
                        if let Some(e) =
                            ops.error_text(ctx, OtrlErrorCodeValues::OTRL_ERRCODE_ENCRYPTION_ERROR)
                        {
                            ops.inject(ctx, &e);
                        }
                    }
                }
                0
            }
            FINISHED => {
                ops.msg_event(
                    OtrlMessageEventValues::OTRL_MSGEVENT_CONNECTION_ENDED,
                    ctx,
                    None,
                    0,
                );
                *messagep = malloc_cstring(b"");
                0
            }
            _ => 0,
        }
    }
}

/// Keeps `text` for resending (4.1.1's `lastmessage`), in the buffer of
/// the previous one when it has room.
///
/// # Safety
/// `ctx` is live.
unsafe fn remember_last(ctx: *mut ConnContext, text: &[u8]) {
    // SAFETY: per the contract.
    let s = unsafe { session(ctx) };
    match &mut s.last_message {
        Some(buf) => {
            // Wiped first (the whole capacity): growing the buffer would
            // otherwise leave the previous message in the freed block.
            zeroize::Zeroize::zeroize(&mut **buf);
            buf.extend_from_slice(text);
        }
        None => s.last_message = Some(zeroize::Zeroizing::new(text.to_vec())),
    }
}

/// Whether `policy` lets a message of protocol `version` in.
fn version_allowed(policy: OtrlPolicy, version: i32) -> bool {
    (version == 3 && policy & OTRL_POLICY_ALLOW_V3 != 0)
        || (version == 2 && policy & OTRL_POLICY_ALLOW_V2 != 0)
}

/// Handles one received message from `sender`.
///
/// Returns 1 when the message was for the library (AKE, SMP, heartbeats,
/// errors, fragments) and must not be shown, 0 otherwise: then
/// `*newmessagep` is NULL to show the original, or a malloc'd replacement
/// (the decrypted text, or the text without its whitespace tag).
/// `*newmessagep`, `*tlvsp` and `*contextp` are set to NULL first. A
/// failure inside the library gives 1 and no output.
///
/// # Safety
/// `us` is a valid user state; `ops` is NULL or a callback table; strings
/// are NULL or NUL-terminated; the out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_message_receiving(
    us: OtrlUserState,
    ops: *const OtrlMessageAppOps,
    opdata: *mut c_void,
    accountname: *const c_char,
    protocol: *const c_char,
    sender: *const c_char,
    message: *const c_char,
    newmessagep: *mut *mut c_char,
    tlvsp: *mut *mut OtrlTLV,
    contextp: *mut *mut ConnContext,
    add_appdata: AddAppData,
    data: *mut c_void,
) -> c_int {
    guard(1, || unsafe {
        // SAFETY (whole body): pointers per the contract.
        if accountname.is_null()
            || protocol.is_null()
            || sender.is_null()
            || message.is_null()
            || newmessagep.is_null()
            || us.is_null()
        {
            return 0;
        }
        *newmessagep = null_mut();
        if let Some(t) = tlvsp.as_mut() {
            *t = null_mut();
        }
        if let Some(c) = contextp.as_mut() {
            *c = null_mut();
        }
        receive(
            Ops { ops, opdata },
            us,
            accountname,
            protocol,
            sender,
            message,
            newmessagep,
            tlvsp,
            contextp,
            add_appdata,
            data,
        )
    })
}

/// The body of [`otrl_message_receiving`] after the argument checks.
///
/// # Safety
/// As [`otrl_message_receiving`], with the out-pointers cleared.
#[allow(clippy::too_many_arguments)]
unsafe fn receive(
    ops: Ops,
    us: OtrlUserState,
    accountname: *const c_char,
    protocol: *const c_char,
    sender: *const c_char,
    message: *const c_char,
    newmessagep: *mut *mut c_char,
    tlvsp: *mut *mut OtrlTLV,
    contextp: *mut *mut ConnContext,
    add_appdata: AddAppData,
    data: *mut c_void,
) -> c_int {
    // SAFETY (whole body): per the contract; engine references are
    // re-taken after every callback.
    unsafe {
        let mut added = 0;
        let master = otrl_context_find(
            us,
            sender,
            accountname,
            protocol,
            OTRL_INSTAG_MASTER,
            1,
            &mut added,
            add_appdata,
            data,
        );
        if master.is_null() {
            return 1;
        }
        if added != 0 {
            ops.update_context_list();
        }
        // 4.1.1 gives the context an instance tag before anything else,
        // whatever the message and the policy.
        ensure_instag(ops, us, master);
        let mut ctx = master;
        let policy = ops.policy(ctx);
        if policy & OTRL_POLICY_VERSION_MASK == 0 {
            return 0;
        }
        // Read in place: the caller's message outlives this call.
        let raw = bytes(message).unwrap_or_default();
        let mut child_added = 0;
        // A v3 fragment names its instances in its own header: it is
        // reassembled in that instance's child context.
        if let otr_core::fragment::FragmentParse::Fragment(f) =
            otr_core::fragment::parse_fragment(raw)
        {
            if let (Some(theirs), Some(ours)) = (f.sender_instance, f.receiver_instance) {
                if !for_us(ops, master, ours) {
                    return 1;
                }
                if theirs >= OTRL_MIN_VALID_INSTAG {
                    ctx = child_context(
                        us,
                        sender,
                        accountname,
                        protocol,
                        theirs,
                        &mut child_added,
                        add_appdata,
                        data,
                    )
                    .unwrap_or(ctx);
                }
            }
        }
        let our_instance = (*ctx).our_instance;
        let whole;
        let text = match session(ctx).fragments.accumulate(raw, Some(our_instance)) {
            otr_core::fragment::Accumulate::Unfragmented => raw,
            otr_core::fragment::Accumulate::Incomplete => return 1,
            otr_core::fragment::Accumulate::Complete(w) => {
                whole = w;
                &whole[..]
            }
        };
        if policy & OTRL_POLICY_SEND_WHITESPACE_TAG != 0 {
            // The answer to our OTR offer: any whole OTR message accepts
            // it, plain text rejects an offer we made.
            use crate::context::OtrlOfferValues::*;
            let c = &mut *ctx;
            if wire::message_type(text) != MessageType::NotOtr {
                c.otr_offer = OFFER_ACCEPTED as c_uint;
            } else if c.otr_offer == OFFER_SENT as c_uint {
                c.otr_offer = OFFER_REJECTED as c_uint;
            }
        }
        // A whole message of a protocol version the policy does not allow
        // is dropped without a word, before its instance tags are looked at.
        let version = wire::message_version(text);
        if matches!(version, 1..=3) && !version_allowed(policy, version) {
            return 1;
        }
        // A whole v3 message goes to its sender's instance.
        if ctx == master && version == 3 {
            let Ok((theirs, ours)) = wire::instance_tags(text) else {
                malformed(ops, master);
                return 1;
            };
            // Addressed to another instance of ours (only a D-H Commit may
            // be addressed to none): reported before anything else, and no
            // context is made for its sender.
            let to_anyone = wire::message_type(text) == MessageType::DhCommit;
            if (ours == 0 && !to_anyone) || !for_us(ops, master, ours) {
                if ours == 0 {
                    ops.msg_event(
                        OtrlMessageEventValues::OTRL_MSGEVENT_RCVDMSG_FOR_OTHER_INSTANCE,
                        master,
                        None,
                        0,
                    );
                }
                return 1;
            }
            if theirs < OTRL_MIN_VALID_INSTAG {
                malformed(ops, master);
                return 1;
            }
            ctx = child_context(
                us,
                sender,
                accountname,
                protocol,
                theirs,
                &mut child_added,
                add_appdata,
                data,
            )
            .unwrap_or(ctx);
            // Data from an instance we had never heard of cannot be ours to
            // read: 4.1.1 drops it without a word.
            if child_added != 0 && wire::message_type(text) == MessageType::Data {
                return 1;
            }
        }
        // Only a whole message names its context to the caller, and only
        // then does the application hear of a child made for it.
        if let Some(c) = contextp.as_mut() {
            *c = ctx;
        }
        if child_added != 0 {
            ops.update_context_list();
        }
        let msgtype = wire::message_type(text);
        match msgtype {
            MessageType::Query => {
                let best = wire::query_bestversion(text, policy);
                if best == 2 || best == 3 {
                    start_ake(ops, us, ctx, best as u16);
                }
                1
            }
            MessageType::DhCommit
            | MessageType::DhKey
            | MessageType::RevealSig
            | MessageType::Signature => {
                if version_allowed(policy, version) {
                    handle_ake(ops, us, master, ctx, msgtype, version as u16, text);
                }
                1
            }
            MessageType::V1KeyExch => 1,
            MessageType::Data => receive_data(ops, us, ctx, text, newmessagep, tlvsp),
            MessageType::Error => {
                if policy & OTRL_POLICY_ERROR_START_AKE != 0 {
                    let account = bytes((*ctx).accountname).unwrap_or_default().to_vec();
                    ops.inject(ctx, &wire::default_query_msg(&account, policy));
                }
                if (*ctx).msgstate == ENCRYPTED {
                    (*(*ctx).context_priv).may_retransmit = 1;
                }
                let shown = match find_bytes(text, b"?OTR Error:") {
                    Some(i) => {
                        let rest = &text[i + 11..];
                        rest.strip_prefix(b" ").unwrap_or(rest)
                    }
                    None => text,
                };
                if ops.get().is_some_and(|o| o.handle_msg_event.is_some()) {
                    ops.msg_event(
                        OtrlMessageEventValues::OTRL_MSGEVENT_RCVDMSG_GENERAL_ERR,
                        ctx,
                        Some(shown),
                        0,
                    );
                    1
                } else {
                    0
                }
            }
            MessageType::TaggedPlaintext | MessageType::NotOtr => {
                if msgtype == MessageType::TaggedPlaintext {
                    let (best, span) = wire::whitespace_bestversion(text, policy);
                    if let Some((start, end)) = span {
                        let mut stripped = text[..start].to_vec();
                        stripped.extend_from_slice(&text[end..]);
                        *newmessagep = malloc_cstring(&stripped);
                    }
                    if (best == 2 || best == 3) && policy & OTRL_POLICY_WHITESPACE_START_AKE != 0 {
                        start_ake(ops, us, ctx, best as u16);
                    }
                }
                // Plain text while any instance is private (or while policy
                // requires encryption) is reported, not shown.
                let best = otrl_context_find(
                    us,
                    sender,
                    accountname,
                    protocol,
                    crate::instag::OTRL_INSTAG_BEST,
                    0,
                    null_mut(),
                    None,
                    null_mut(),
                );
                let best_state = best.as_ref().map_or(PLAINTEXT, |b| b.msgstate);
                if best_state != PLAINTEXT || policy & OTRL_POLICY_REQUIRE_ENCRYPTION != 0 {
                    let shown = bytes(*newmessagep)
                        .map(<[u8]>::to_vec)
                        .unwrap_or_else(|| text.to_vec());
                    crate::ffi::free(*newmessagep);
                    *newmessagep = null_mut();
                    ops.msg_event(
                        OtrlMessageEventValues::OTRL_MSGEVENT_RCVDMSG_UNENCRYPTED,
                        ctx,
                        Some(&shown),
                        0,
                    );
                    return 1;
                }
                0
            }
            MessageType::Unknown => {
                ops.msg_event(
                    OtrlMessageEventValues::OTRL_MSGEVENT_RCVDMSG_UNRECOGNIZED,
                    ctx,
                    None,
                    0,
                );
                1
            }
        }
    }
}

/// Reports a malformed message and tells the peer with an OTR error.
fn malformed(ops: Ops, ctx: *mut ConnContext) {
    ops.msg_event(
        OtrlMessageEventValues::OTRL_MSGEVENT_RCVDMSG_MALFORMED,
        ctx,
        None,
        0,
    );
    if let Some(e) = ops.error_text(ctx, OtrlErrorCodeValues::OTRL_ERRCODE_MSG_MALFORMED) {
        ops.inject(ctx, &e);
    }
}

fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether a v3 message addressed to instance `ours` is for us; reports
/// it (on the master) when it is for another instance of ours. Without a
/// tag of our own, such a message is dropped silently, as 4.1.1 does.
///
/// # Safety
/// `master` is live.
unsafe fn for_us(ops: Ops, master: *mut ConnContext, ours: u32) -> bool {
    // SAFETY: per the contract.
    let mine = unsafe { (*master).our_instance };
    if ours == 0 || ours == mine {
        return true;
    }
    if mine != 0 {
        ops.msg_event(
            OtrlMessageEventValues::OTRL_MSGEVENT_RCVDMSG_FOR_OTHER_INSTANCE,
            master,
            None,
            0,
        );
    }
    false
}

/// The child context of instance `theirs`, made if missing; a new child
/// speaks v3 (its instance came in a v3 message).
///
/// # Safety
/// As [`otrl_context_find`].
#[allow(clippy::too_many_arguments)]
unsafe fn child_context(
    us: OtrlUserState,
    sender: *const c_char,
    accountname: *const c_char,
    protocol: *const c_char,
    theirs: otrl_instag_t,
    added: &mut c_int,
    add_appdata: AddAppData,
    data: *mut c_void,
) -> Option<*mut ConnContext> {
    // SAFETY: per the contract.
    unsafe {
        let mut new = 0;
        let child = otrl_context_find(
            us,
            sender,
            accountname,
            protocol,
            theirs,
            1,
            &mut new,
            add_appdata,
            data,
        );
        let c = child.as_mut()?;
        if new != 0 {
            c.protocol_version = 3;
            *added = 1;
        }
        Some(child)
    }
}

/// One AKE message for `ctx` (a child when the peer's instance is known).
///
/// # Safety
/// `us`, `master` and `ctx` are live.
unsafe fn handle_ake(
    ops: Ops,
    us: OtrlUserState,
    master: *mut ConnContext,
    ctx: *mut ConnContext,
    msgtype: MessageType,
    version: u16,
    text: &[u8],
) {
    // SAFETY: per the contract; engine references are not held across
    // callbacks (create_privkey, the sends, go_encrypted's callbacks).
    unsafe {
        let Ok(bin) = wire::otr_decode(text) else {
            ops.msg_event(
                OtrlMessageEventValues::OTRL_MSGEVENT_SETUP_ERROR,
                ctx,
                None,
                OtrError::libotr(code::INV_VALUE).value(),
            );
            return;
        };
        let parsed = wire::Message::parse(&bin);
        let Ok(msg) = parsed else {
            send_or_error_auth(ops, us, ctx, OtrError::libotr(code::INV_VALUE).value());
            return;
        };
        {
            let c = &*ctx;
            let s = session(ctx);
            s.auth.our_instance = c.our_instance;
            s.auth.their_instance = c.their_instance;
        }
        // A D-H Key answering a commit the master sent before it knew
        // which instance would reply: the child takes over that exchange.
        if matches!(msgtype, MessageType::DhKey) && ctx != master {
            let m = session(master);
            if m.auth.state == AuthState::AwaitingDhKey
                && session(ctx).auth.state != AuthState::AwaitingDhKey
            {
                let copy = m
                    .auth
                    .clone_for_instance((*ctx).our_instance, (*ctx).their_instance);
                session(ctx).auth = copy;
                // 4.1.1 takes the child out of ENCRYPTED here, without
                // callbacks and without wiping its keys: the exchange then
                // ends in gone_secure on this side.
                (*ctx).msgstate = PLAINTEXT;
            }
        }
        let needs_key = matches!(msgtype, MessageType::DhKey | MessageType::RevealSig);
        let mut key = None;
        if needs_key {
            let mut pk = otrl_privkey_find(us, (*ctx).accountname, (*ctx).protocol);
            if pk.is_null() {
                if let Some(f) = ops.get().and_then(|o| o.create_privkey) {
                    f(ops.opdata, (*ctx).accountname, (*ctx).protocol);
                    pk = otrl_privkey_find(us, (*ctx).accountname, (*ctx).protocol);
                }
            }
            if pk.is_null() {
                return;
            }
            match crate::privkey::signing_key(pk) {
                Ok(k) => key = Some(k),
                Err(e) => {
                    send_or_error_auth(ops, us, ctx, e);
                    return;
                }
            }
        }
        let s = session(ctx);
        let result = match (&msg, &key) {
            (wire::Message::DhCommit(m), _) => Ok(s.auth.handle_commit(version, m)),
            (wire::Message::DhKey(m), Some(k)) => s.auth.handle_key(m, k),
            (wire::Message::RevealSignature(m), Some(k)) => s.auth.handle_revealsig(m, k),
            (wire::Message::Signature(m), _) => s.auth.handle_signature(m),
            _ => Ok(Outcome::Ignore),
        };
        (*ctx).protocol_version = c_uint::from(version);
        match result {
            Err(e) => send_or_error_auth(ops, us, ctx, e.value()),
            Ok(Outcome::Ignore) => sync_auth(ctx),
            Ok(Outcome::Send(_)) => send_or_error_auth(ops, us, ctx, 0),
            Ok(Outcome::Done { reply, established }) => {
                // As in 4.1.1, the application hears of the new session
                // before the reply that completes the peer's side goes out.
                sync_auth(ctx);
                let secured = go_encrypted(ops, us, ctx, &established);
                if reply.is_some() {
                    send_or_error_auth(ops, us, ctx, 0);
                }
                if secured {
                    maybe_resend(ops, ctx);
                }
            }
        }
    }
}

/// Decrypts a data message in `ctx`'s session. On failure, the flags (if
/// the message could be parsed) and libotr's error: INV_VALUE for a
/// malformed message, CONFLICT for one that cannot be read.
///
/// # Safety
/// `ctx` is live; the result is used before any callback.
pub(crate) unsafe fn accept_data(
    ctx: *mut ConnContext,
    text: &[u8],
) -> Result<otr_core::data::Received, (Option<u8>, gcry_error_t)> {
    // SAFETY: per the contract.
    unsafe {
        let raw = wire::otr_decode(text).unwrap_or_default();
        let parsed = wire::DataMessage::parse(&raw).ok();
        let flags = parsed.as_ref().map(|m| m.flags);
        let s = session(ctx);
        let result = match (parsed, s.data.as_mut()) {
            (Some(m), Some(d)) if d.version == m.header.version => d.decrypt_raw(m, &raw),
            _ => Err(OtrError::libotr(code::INV_VALUE)),
        };
        sync_keyids(ctx);
        result.map_err(|e| (flags, e.value()))
    }
}

/// A data message for `ctx` (the rest of [`otrl_message_receiving`]).
///
/// # Safety
/// `us` and `ctx` are live; the out-pointers are NULL or writable (and
/// `newmessagep` non-NULL).
unsafe fn receive_data(
    ops: Ops,
    us: OtrlUserState,
    ctx: *mut ConnContext,
    text: &[u8],
    newmessagep: *mut *mut c_char,
    tlvsp: *mut *mut OtrlTLV,
) -> c_int {
    let _ = us;
    // SAFETY: per the contract; engine references end before callbacks.
    unsafe {
        let ignore_unreadable = |flags: Option<u8>| {
            flags.is_some_and(|f| c_uint::from(f) & OTRL_MSGFLAGS_IGNORE_UNREADABLE != 0)
        };
        if (*ctx).msgstate != ENCRYPTED {
            if ignore_unreadable(wire::data_read_flags(text).ok()) {
                return 1;
            }
            // 4.1.1 reports this to the application only; no OTR Error goes
            // back to the peer.
            ops.msg_event(
                OtrlMessageEventValues::OTRL_MSGEVENT_RCVDMSG_NOT_IN_PRIVATE,
                ctx,
                None,
                0,
            );
            return 1;
        }
        let got = match accept_data(ctx, text) {
            Ok(got) => got,
            Err((flags, e)) => {
                if ignore_unreadable(flags) {
                    return 1;
                }
                let conflict = e & 0xffff == u32::from(code::CONFLICT);
                let (ev, ec) = if conflict {
                    (
                        OtrlMessageEventValues::OTRL_MSGEVENT_RCVDMSG_UNREADABLE,
                        OtrlErrorCodeValues::OTRL_ERRCODE_MSG_UNREADABLE,
                    )
                } else {
                    (
                        OtrlMessageEventValues::OTRL_MSGEVENT_RCVDMSG_MALFORMED,
                        OtrlErrorCodeValues::OTRL_ERRCODE_MSG_MALFORMED,
                    )
                };
                ops.msg_event(ev, ctx, None, 0);
                if let Some(e) = ops.error_text(ctx, ec) {
                    ops.inject(ctx, &e);
                }
                return 1;
            }
        };
        let t = now();
        (*(*ctx).context_priv).lastrecv = t as libc::time_t;
        otrl_context_update_recent_child(ctx, 0);
        let tlvs = crate::tlv::list_from(&otr_core::tlv::parse(got.tlvs()));
        if !otrl_tlv_find(tlvs, OTRL_TLV_DISCONNECTED).is_null() {
            otrl_context_force_finished(ctx);
        }
        handle_smp_tlvs(ops, us, ctx, tlvs);
        let symkey = otrl_tlv_find(tlvs, OTRL_TLV_SYMKEY);
        if let (Some(tlv), Some(f)) = (symkey.as_ref(), ops.get().and_then(|o| o.received_symkey)) {
            if tlv.len >= 4 {
                let d = core::slice::from_raw_parts(tlv.data, usize::from(tlv.len));
                let usage = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
                f(
                    ops.opdata,
                    ctx,
                    usage,
                    tlv.data.add(4),
                    usize::from(tlv.len) - 4,
                    got.extra_key.as_ptr(),
                );
            }
        }
        let ignore = if got.text().is_empty() {
            ops.msg_event(
                OtrlMessageEventValues::OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD,
                ctx,
                None,
                0,
            );
            1
        } else {
            let mut converted: *mut c_char = null_mut();
            if let Some(f) = ops.get().and_then(|o| o.convert_msg) {
                let plain = cstring(got.text());
                f(
                    ops.opdata,
                    ctx,
                    OtrlConvertTypeValues::OTRL_CONVERT_RECEIVING as c_uint,
                    &mut converted,
                    plain.as_ptr().cast(),
                );
            }
            *newmessagep = match bytes(converted) {
                Some(c) => malloc_cstring(c),
                None => malloc_cstring(got.text()),
            };
            if !converted.is_null() {
                if let Some(f) = ops.get().and_then(|o| o.convert_free) {
                    f(ops.opdata, ctx, converted);
                }
            }
            0
        };
        match tlvsp.as_mut() {
            Some(out) => *out = tlvs,
            None => otrl_tlv_free(tlvs),
        }
        if (*ctx).msgstate == ENCRYPTED && (*(*ctx).context_priv).lastsent < t - HEARTBEAT_INTERVAL
        {
            if let Ok((beat, _)) = create_data(
                ctx,
                b"",
                core::ptr::null(),
                OTRL_MSGFLAGS_IGNORE_UNREADABLE as u8,
            ) {
                ops.inject(ctx, &beat);
                otrl_context_update_recent_child(ctx, 1);
                ops.msg_event(
                    OtrlMessageEventValues::OTRL_MSGEVENT_LOG_HEARTBEAT_SENT,
                    ctx,
                    None,
                    0,
                );
            }
        }
        ignore
    }
}

/// Ends the private conversation with one instance of `username`: tells the
/// peer (when `is_logged_in` says they are online) and returns to
/// PLAINTEXT.
///
/// # Safety
/// `us` is a valid user state; `ops` is NULL or a callback table; strings
/// are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_message_disconnect(
    us: OtrlUserState,
    ops: *const OtrlMessageAppOps,
    opdata: *mut c_void,
    accountname: *const c_char,
    protocol: *const c_char,
    username: *const c_char,
    instance: otrl_instag_t,
) {
    guard((), || unsafe {
        // SAFETY: per the contract.
        let ctx = otrl_context_find(
            us,
            username,
            accountname,
            protocol,
            instance,
            0,
            null_mut(),
            None,
            null_mut(),
        );
        if !ctx.is_null() {
            disconnect_context(Ops { ops, opdata }, ctx);
        }
    })
}

/// Sends a DISCONNECTED TLV if the session is encrypted and the peer is
/// online, then forces the context back to PLAINTEXT.
///
/// # Safety
/// `ctx` is live.
unsafe fn disconnect_context(ops: Ops, ctx: *mut ConnContext) {
    // SAFETY: per the contract.
    unsafe {
        let c = &*ctx;
        let online = match ops.get().and_then(|o| o.is_logged_in) {
            Some(f) => f(ops.opdata, c.accountname, c.protocol, c.username) == 1,
            None => false,
        };
        if c.msgstate == ENCRYPTED && online && ops.has_inject() {
            let tlv = crate::tlv::otrl_tlv_new(OTRL_TLV_DISCONNECTED, 0, core::ptr::null());
            if let Ok((msg, _)) = create_data(ctx, b"", tlv, OTRL_MSGFLAGS_IGNORE_UNREADABLE as u8)
            {
                ops.inject(ctx, &msg);
            }
            otrl_tlv_free(tlv);
        }
        otrl_context_force_plaintext(ctx);
        ops.update_context_list();
    }
}

/// [`otrl_message_disconnect`] for the master context and every instance.
///
/// # Safety
/// As [`otrl_message_disconnect`].
#[no_mangle]
pub unsafe extern "C" fn otrl_message_disconnect_all_instances(
    us: OtrlUserState,
    ops: *const OtrlMessageAppOps,
    opdata: *mut c_void,
    accountname: *const c_char,
    protocol: *const c_char,
    username: *const c_char,
) {
    guard((), || unsafe {
        // SAFETY: per the contract; the family is walked by re-reading
        // `next` after each disconnect.
        let master = otrl_context_find(
            us,
            username,
            accountname,
            protocol,
            OTRL_INSTAG_MASTER,
            0,
            null_mut(),
            None,
            null_mut(),
        );
        let mut cur = master;
        while !cur.is_null() && (*cur).m_context == master {
            let next = (*cur).next;
            disconnect_context(Ops { ops, opdata }, cur);
            cur = next;
        }
    })
}

/// Sends a message asking the peer to use the current extra symmetric key
/// for `use_` (with `usedata`), and writes that key (32 bytes) to
/// `symkey`. Only in an encrypted session; otherwise `GPG_ERR_INV_VALUE`.
///
/// # Safety
/// `context` is NULL or live; `usedata` is readable for `usedatalen`
/// bytes; `symkey` has room for 32 bytes.
#[no_mangle]
pub unsafe extern "C" fn otrl_message_symkey(
    us: OtrlUserState,
    ops: *const OtrlMessageAppOps,
    opdata: *mut c_void,
    context: *mut ConnContext,
    r#use: c_uint,
    usedata: *const c_uchar,
    usedatalen: usize,
    symkey: *mut c_uchar,
) -> gcry_error_t {
    let inval = OtrError::libotr(code::INV_VALUE).value();
    let _ = us;
    guard(inval, || unsafe {
        // SAFETY: per the contract.
        if context.is_null() || (usedatalen > 0 && usedata.is_null()) || symkey.is_null() {
            return inval;
        }
        if (*context).msgstate != ENCRYPTED || (*(*context).context_priv).their_keyid == 0 {
            return inval;
        }
        let Ok(len) = u16::try_from(usedatalen + 4) else {
            return inval;
        };
        let mut payload = r#use.to_be_bytes().to_vec();
        if usedatalen > 0 {
            payload.extend_from_slice(core::slice::from_raw_parts(usedata, usedatalen));
        }
        let tlv = crate::tlv::otrl_tlv_new(OTRL_TLV_SYMKEY, len, payload.as_ptr());
        let result = create_data(context, b"", tlv, OTRL_MSGFLAGS_IGNORE_UNREADABLE as u8);
        otrl_tlv_free(tlv);
        match result {
            Ok((msg, key)) => {
                core::ptr::copy_nonoverlapping(key.as_ptr(), symkey, key.len());
                Ops { ops, opdata }.inject(context, &msg);
                0
            }
            Err(e) => e,
        }
    })
}

/// How often, in seconds, applications without `timer_control` should call
/// [`otrl_message_poll`]: 70.
#[no_mangle]
pub extern "C" fn otrl_message_poll_get_default_interval(us: OtrlUserState) -> c_uint {
    let _ = us;
    POLL_DEFAULT_INTERVAL
}

/// Periodic work: abandons v3 D-H Commits unanswered for 60 seconds, and
/// stops the application's timer (`timer_control(0)`) once nothing waits.
/// `ops` may be NULL.
///
/// # Safety
/// `us` is NULL or a valid user state; `ops` is NULL or a callback table.
#[no_mangle]
pub unsafe extern "C" fn otrl_message_poll(
    us: OtrlUserState,
    ops: *const OtrlMessageAppOps,
    opdata: *mut c_void,
) {
    guard((), || unsafe {
        // SAFETY: per the contract.
        // Raw pointers only: sync_auth writes the contexts it is given, and
        // the callback may re-enter the library with this user state.
        if us.is_null() {
            return;
        }
        let t = now();
        let mut waiting = false;
        let mut cur = (*us).context_root;
        while !cur.is_null() {
            if (*cur).m_context == cur
                && (*cur).auth.authstate == AuthState::AwaitingDhKey as c_uint
                && (*cur).auth.protocol_version == 3
                && (*cur).auth.commit_sent_time > 0
            {
                if (*cur).auth.commit_sent_time < t - MAX_AKE_WAIT_TIME {
                    session(cur).auth.clear();
                    sync_auth(cur);
                    (*cur).auth.commit_sent_time = 0;
                } else {
                    waiting = true;
                }
            }
            cur = (*cur).next;
        }
        let ops = Ops { ops, opdata };
        if !waiting && ops.get().is_some_and(|o| o.timer_control.is_some()) {
            ops.timer_control(0);
            (*us).timer_running = 0;
        }
    })
}

/// Sends one SMP TLV in an otherwise empty data message (flagged
/// IGNORE_UNREADABLE, as every protocol-only message is).
///
/// # Safety
/// `ctx` is live.
unsafe fn send_smp_tlv(
    ops: Ops,
    ctx: *mut ConnContext,
    tlv_type: c_ushort,
    payload: &[u8],
) -> bool {
    // SAFETY: per the contract.
    unsafe {
        let Ok(len) = c_ushort::try_from(payload.len()) else {
            return false;
        };
        let tlv = crate::tlv::otrl_tlv_new(tlv_type, len, payload.as_ptr());
        let sent = match create_data(ctx, b"", tlv, OTRL_MSGFLAGS_IGNORE_UNREADABLE as u8) {
            Ok((msg, _)) => {
                fragment_and_send(
                    ops,
                    ctx,
                    &msg,
                    OtrlFragmentPolicyValues::OTRL_FRAGMENT_SEND_ALL as c_uint,
                    null_mut(),
                );
                true
            }
            Err(_) => false,
        };
        otrl_tlv_free(tlv);
        sent
    }
}

/// Copies the engine's SMP progress into the C-visible `smstate`; a
/// running SMP shows a non-NULL `secret`, as in 4.1.1.
///
/// # Safety
/// `ctx` is live.
unsafe fn sync_smp(ctx: *mut ConnContext) {
    // SAFETY: per the contract.
    unsafe {
        let Some(sm) = (*ctx).smstate.as_mut() else {
            return;
        };
        let s = &session(ctx).smp;
        sm.received_question = c_int::from(s.received_question());
        sm.sm_prog_state = s.progress().to_libotr();
        if sm.secret.is_null() {
            sm.secret = crate::gcry::mpi_new(&[1]);
        }
    }
}

/// The combined secret of an SMP run: both fingerprints (initiator's
/// first), the session id and the user's secret, hashed.
///
/// # Safety
/// `us` and `ctx` are live and `ctx` is encrypted.
unsafe fn smp_secret(
    us: OtrlUserState,
    ctx: *mut ConnContext,
    secret: &[u8],
    initiating: bool,
) -> Option<[u8; 32]> {
    // SAFETY: per the contract.
    unsafe {
        let c = &*ctx;
        let mut ours = [0u8; 20];
        if crate::privkey::otrl_privkey_fingerprint_raw(
            us,
            ours.as_mut_ptr(),
            c.accountname,
            c.protocol,
        )
        .is_null()
        {
            return None;
        }
        let fp = c.active_fingerprint.as_ref()?;
        let theirs: [u8; 20] = core::slice::from_raw_parts(fp.fingerprint, 20)
            .try_into()
            .ok()?;
        let ssid = &c.sessionid[..c.sessionid_len.min(20)];
        Some(if initiating {
            otr_core::smp::smp_secret(&ours, &theirs, ssid, secret)
        } else {
            otr_core::smp::smp_secret(&theirs, &ours, ssid, secret)
        })
    }
}

/// Starts (`initiating`) or answers an SMP run with the user's secret.
///
/// # Safety
/// As the SMP exports.
unsafe fn init_respond_smp(
    ops: Ops,
    us: OtrlUserState,
    ctx: *mut ConnContext,
    question: Option<&[u8]>,
    secret: &[u8],
    initiating: bool,
) {
    use crate::sm::NextExpectedSMPValues::*;
    // SAFETY: per the contract.
    unsafe {
        if ctx.is_null() || (*ctx).msgstate != ENCRYPTED {
            return;
        }
        // The hashed secret is wiped when this function returns.
        let Some(combined) = smp_secret(us, ctx, secret, initiating).map(zeroize::Zeroizing::new)
        else {
            return;
        };
        let smp = &mut session(ctx).smp;
        let payload = if initiating {
            smp.step1(&combined[..])
        } else {
            match smp.step2b(&combined[..]) {
                Ok(p) => p,
                Err(_) => return,
            }
        };
        sync_smp(ctx);
        let (tlv_type, body) = match (initiating, question) {
            (true, Some(q)) => {
                let mut b = wire::c_str(q).to_vec();
                b.push(0);
                b.extend_from_slice(&payload);
                (crate::tlv::OTRL_TLV_SMP1Q, b)
            }
            (true, None) => (crate::tlv::OTRL_TLV_SMP1, payload),
            (false, _) => (crate::tlv::OTRL_TLV_SMP2, payload),
        };
        if send_smp_tlv(ops, ctx, tlv_type, &body) {
            if let Some(sm) = (*ctx).smstate.as_mut() {
                sm.nextExpected = if initiating {
                    OTRL_SMP_EXPECT2
                } else {
                    OTRL_SMP_EXPECT3
                } as c_uint;
            }
        }
    }
}

/// Starts the Socialist Millionaires' Protocol with the user's secret, to
/// confirm the correspondent's key without comparing fingerprints.
///
/// # Safety
/// `us` is a valid user state; `ops` is NULL or a callback table; `context`
/// is NULL or live; `secret` is readable for `secretlen` bytes.
#[no_mangle]
pub unsafe extern "C" fn otrl_message_initiate_smp(
    us: OtrlUserState,
    ops: *const OtrlMessageAppOps,
    opdata: *mut c_void,
    context: *mut ConnContext,
    secret: *const c_uchar,
    secretlen: usize,
) {
    // SAFETY: per the contract.
    unsafe {
        otrl_message_initiate_smp_q(
            us,
            ops,
            opdata,
            context,
            core::ptr::null(),
            secret,
            secretlen,
        )
    }
}

/// [`otrl_message_initiate_smp`] with a question the peer answers with the
/// secret (NULL for none).
///
/// # Safety
/// As [`otrl_message_initiate_smp`]; `question` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_message_initiate_smp_q(
    us: OtrlUserState,
    ops: *const OtrlMessageAppOps,
    opdata: *mut c_void,
    context: *mut ConnContext,
    question: *const c_char,
    secret: *const c_uchar,
    secretlen: usize,
) {
    guard((), || unsafe {
        // SAFETY: per the contract.
        if secret.is_null() && secretlen != 0 {
            return;
        }
        let s = if secretlen == 0 {
            &[][..]
        } else {
            core::slice::from_raw_parts(secret, secretlen)
        };
        init_respond_smp(Ops { ops, opdata }, us, context, bytes(question), s, true);
    })
}

/// Answers the peer's SMP request with the user's secret.
///
/// # Safety
/// As [`otrl_message_initiate_smp`].
#[no_mangle]
pub unsafe extern "C" fn otrl_message_respond_smp(
    us: OtrlUserState,
    ops: *const OtrlMessageAppOps,
    opdata: *mut c_void,
    context: *mut ConnContext,
    secret: *const c_uchar,
    secretlen: usize,
) {
    guard((), || unsafe {
        // SAFETY: per the contract.
        if secret.is_null() && secretlen != 0 {
            return;
        }
        let s = if secretlen == 0 {
            &[][..]
        } else {
            core::slice::from_raw_parts(secret, secretlen)
        };
        init_respond_smp(Ops { ops, opdata }, us, context, None, s, false);
    })
}

/// Abandons the SMP run: the state expects SMP1 again (progress and
/// question flags are kept, as in 4.1.1) and the peer is told. Safe to
/// call from inside `handle_smp_event`.
///
/// # Safety
/// `us` is a valid user state; `ops` is NULL or a callback table; `context`
/// is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn otrl_message_abort_smp(
    us: OtrlUserState,
    ops: *const OtrlMessageAppOps,
    opdata: *mut c_void,
    context: *mut ConnContext,
) {
    let _ = us;
    guard((), || unsafe {
        // SAFETY: per the contract.
        if context.is_null() {
            return;
        }
        // As 4.1.1: only the expected step goes back to the start. The
        // progress, the question flag and the run's numbers stay: an abort
        // from inside a callback may be followed by the step the library
        // was about to expect (4.1.1 completes such a run). The next run
        // replaces the numbers.
        if let Some(sm) = (*context).smstate.as_mut() {
            sm.nextExpected = crate::sm::NextExpectedSMPValues::OTRL_SMP_EXPECT1 as c_uint;
        }
        send_smp_tlv(
            Ops { ops, opdata },
            context,
            crate::tlv::OTRL_TLV_SMP_ABORT,
            b"",
        );
    })
}

/// Sets the active fingerprint's trust after an SMP run ("smp" or "")
/// and asks the application to save fingerprints.
///
/// # Safety
/// `ctx` is live.
unsafe fn set_smp_trust(ops: Ops, ctx: *mut ConnContext, trusted: bool) {
    // SAFETY: per the contract.
    unsafe {
        let t: &core::ffi::CStr = if trusted { c"smp" } else { c"" };
        crate::context::otrl_context_set_trust((*ctx).active_fingerprint, t.as_ptr());
        if let Some(f) = ops.get().and_then(|o| o.write_fingerprints) {
            f(ops.opdata);
        }
    }
}

/// Reports a cheating attempt, then (as 4.1.1 does once the application
/// has heard of it) puts the run back at its start with progress OK.
///
/// # Safety
/// `ctx` is live.
unsafe fn smp_cheated(ops: Ops, ctx: *mut ConnContext) {
    use crate::sm::NextExpectedSMPValues::OTRL_SMP_EXPECT1;
    use crate::sm::OtrlSMProgStateValues::OTRL_SMP_PROG_OK;
    // SAFETY: per the contract; the state is re-read after the callback.
    unsafe {
        smp_event(
            ops,
            ctx,
            OtrlSMPEventValues::OTRL_SMPEVENT_CHEATED,
            0,
            null_mut(),
        );
        if let Some(sm) = (*ctx).smstate.as_mut() {
            sm.nextExpected = OTRL_SMP_EXPECT1 as c_uint;
            sm.sm_prog_state = OTRL_SMP_PROG_OK as c_int;
        }
    }
}

/// Tells the application about SMP progress.
///
/// # Safety
/// `ctx` is live.
unsafe fn smp_event(
    ops: Ops,
    ctx: *mut ConnContext,
    ev: OtrlSMPEventValues,
    percent: c_ushort,
    question: *mut c_char,
) {
    if let Some(f) = ops.get().and_then(|o| o.handle_smp_event) {
        // SAFETY: application callback with a live context.
        unsafe { f(ops.opdata, ev as OtrlSMPEvent, ctx, percent, question) };
    }
}

/// Handles the SMP TLVs of a received data message, as 4.1.1 does: one
/// step per TLV type present, each checked against the step expected.
///
/// # Safety
/// `us` and `ctx` are live; `tlvs` is NULL or a valid list.
unsafe fn handle_smp_tlvs(ops: Ops, us: OtrlUserState, ctx: *mut ConnContext, tlvs: *mut OtrlTLV) {
    use crate::sm::NextExpectedSMPValues::*;
    use crate::sm::OtrlSMProgStateValues::*;
    use crate::tlv::*;
    use OtrlSMPEventValues::*;
    // SAFETY: per the contract; the SMP state is re-read after every
    // callback, which may abort the run or free the state in place.
    unsafe {
        let Some(sm) = (*ctx).smstate.as_mut() else {
            return;
        };
        let next = sm.nextExpected;
        if sm.sm_prog_state == OTRL_SMP_PROG_CHEATED as c_int {
            otrl_message_abort_smp(us, ops.ops, ops.opdata, ctx);
            if let Some(sm) = (*ctx).smstate.as_mut() {
                sm.nextExpected = OTRL_SMP_EXPECT1 as c_uint;
                sm.sm_prog_state = OTRL_SMP_PROG_OK as c_int;
            }
        }
        let payload = |t: c_ushort| {
            otrl_tlv_find(tlvs, t)
                .as_ref()
                .map(|tlv| core::slice::from_raw_parts(tlv.data, usize::from(tlv.len)).to_vec())
        };
        let cheated =
            |ctx: *mut ConnContext| session(ctx).smp.progress() == otr_core::smp::Progress::Cheated;
        if let Some(data) = payload(OTRL_TLV_SMP1Q) {
            if next == OTRL_SMP_EXPECT1 as c_uint && !data.is_empty() {
                let qlen = memchr_nul(&data[..data.len() - 1]).map_or(data.len(), |i| i + 1);
                let _ = session(ctx).smp.step2a(&data[qlen..], true);
                sync_smp(ctx);
                if cheated(ctx) {
                    smp_cheated(ops, ctx);
                } else {
                    let mut q = data[..qlen].to_vec();
                    if q.last() != Some(&0) {
                        q.push(0);
                    }
                    smp_event(
                        ops,
                        ctx,
                        OTRL_SMPEVENT_ASK_FOR_ANSWER,
                        25,
                        q.as_mut_ptr().cast(),
                    );
                }
            } else {
                smp_event(ops, ctx, OTRL_SMPEVENT_ERROR, 0, null_mut());
            }
        }
        if let Some(data) = payload(OTRL_TLV_SMP1) {
            if next == OTRL_SMP_EXPECT1 as c_uint {
                let _ = session(ctx).smp.step2a(&data, false);
                sync_smp(ctx);
                if cheated(ctx) {
                    smp_cheated(ops, ctx);
                } else {
                    smp_event(ops, ctx, OTRL_SMPEVENT_ASK_FOR_SECRET, 25, null_mut());
                }
            } else {
                smp_event(ops, ctx, OTRL_SMPEVENT_ERROR, 0, null_mut());
            }
        }
        if let Some(data) = payload(OTRL_TLV_SMP2) {
            if next == OTRL_SMP_EXPECT2 as c_uint {
                let out = session(ctx).smp.step3(&data);
                sync_smp(ctx);
                match out {
                    Ok(reply) if !cheated(ctx) => {
                        send_smp_tlv(ops, ctx, OTRL_TLV_SMP3, &reply);
                        smp_event(ops, ctx, OTRL_SMPEVENT_IN_PROGRESS, 60, null_mut());
                        if let Some(sm) = (*ctx).smstate.as_mut() {
                            sm.nextExpected = OTRL_SMP_EXPECT4 as c_uint;
                        }
                    }
                    _ => smp_cheated(ops, ctx),
                }
            } else {
                smp_event(ops, ctx, OTRL_SMPEVENT_ERROR, 0, null_mut());
            }
        }
        if let Some(data) = payload(OTRL_TLV_SMP3) {
            if next == OTRL_SMP_EXPECT3 as c_uint {
                let out = session(ctx).smp.step4(&data);
                sync_smp(ctx);
                let succeeded = session(ctx).smp.progress() == otr_core::smp::Progress::Succeeded;
                if !session(ctx).smp.received_question() {
                    set_smp_trust(ops, ctx, succeeded);
                }
                match out {
                    Ok(step) if !cheated(ctx) => {
                        send_smp_tlv(ops, ctx, OTRL_TLV_SMP4, &step.payload);
                        let ev = if succeeded {
                            OTRL_SMPEVENT_SUCCESS
                        } else {
                            OTRL_SMPEVENT_FAILURE
                        };
                        smp_event(ops, ctx, ev, 100, null_mut());
                        if let Some(sm) = (*ctx).smstate.as_mut() {
                            sm.nextExpected = OTRL_SMP_EXPECT1 as c_uint;
                        }
                    }
                    _ => smp_cheated(ops, ctx),
                }
            } else {
                smp_event(ops, ctx, OTRL_SMPEVENT_ERROR, 0, null_mut());
            }
        }
        if let Some(data) = payload(OTRL_TLV_SMP4) {
            if next == OTRL_SMP_EXPECT4 as c_uint {
                let _ = session(ctx).smp.step5(&data);
                sync_smp(ctx);
                let succeeded = session(ctx).smp.progress() == otr_core::smp::Progress::Succeeded;
                set_smp_trust(ops, ctx, succeeded);
                if cheated(ctx) {
                    smp_cheated(ops, ctx);
                } else {
                    let ev = if succeeded {
                        OTRL_SMPEVENT_SUCCESS
                    } else {
                        OTRL_SMPEVENT_FAILURE
                    };
                    smp_event(ops, ctx, ev, 100, null_mut());
                    if let Some(sm) = (*ctx).smstate.as_mut() {
                        sm.nextExpected = OTRL_SMP_EXPECT1 as c_uint;
                    }
                }
            } else {
                smp_event(ops, ctx, OTRL_SMPEVENT_ERROR, 0, null_mut());
            }
        }
        if payload(OTRL_TLV_SMP_ABORT).is_some() {
            if let Some(sm) = (*ctx).smstate.as_mut() {
                sm.nextExpected = OTRL_SMP_EXPECT1 as c_uint;
            }
            smp_event(ops, ctx, OTRL_SMPEVENT_ABORT, 0, null_mut());
        }
    }
}

fn memchr_nul(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == 0)
}
