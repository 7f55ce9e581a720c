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
