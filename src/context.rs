//! `context.h`: conversation contexts and the fingerprints known for them.

use core::ffi::{c_char, c_int, c_uchar, c_uint, c_void};

use crate::auth::OtrlAuthInfo;
use crate::context_priv::ConnContextPriv;
use crate::dh::OtrlSessionIdHalf;
use crate::instag::otrl_instag_t;
use crate::sm::OtrlSMState;

/// The state of message disposition with one correspondent.
pub type OtrlMessageState = c_uint;

/// Values of [`OtrlMessageState`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OtrlMessageStateValues {
    OTRL_MSGSTATE_PLAINTEXT = 0,
    OTRL_MSGSTATE_ENCRYPTED = 1,
    OTRL_MSGSTATE_FINISHED = 2,
}

/// Whether the correspondent has answered our OTR offers (`otr_offer`).
///
/// 4.1.1 declares this enum anonymously inside `struct context`; it gets a
/// name here because the header is generated, with the same enumerators.
pub type OtrlOffer = c_uint;

/// Values of [`OtrlOffer`].
#[repr(C)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum OtrlOfferValues {
    OFFER_NOT = 0,
    OFFER_SENT = 1,
    OFFER_REJECTED = 2,
    OFFER_ACCEPTED = 3,
}

/// A fingerprint known for a correspondent, in the master context's list.
#[repr(C)]
pub struct s_fingerprint {
    pub next: *mut s_fingerprint,
    pub tous: *mut *mut s_fingerprint,
    pub fingerprint: *mut c_uchar,
    pub context: *mut context,
    pub trust: *mut c_char,
}

/// The libotr name of [`s_fingerprint`].
pub type Fingerprint = s_fingerprint;

/// A conversation with one correspondent (master) or one of their instances
/// (child); 472 bytes on x86_64, read directly by applications.
#[repr(C)]
pub struct context {
    pub next: *mut context,
    pub tous: *mut *mut context,
    pub context_priv: *mut ConnContextPriv,
    pub username: *mut c_char,
    pub accountname: *mut c_char,
    pub protocol: *mut c_char,
    pub m_context: *mut context,
    pub recent_rcvd_child: *mut context,
    pub recent_sent_child: *mut context,
    pub recent_child: *mut context,
    pub our_instance: otrl_instag_t,
    pub their_instance: otrl_instag_t,
    pub msgstate: OtrlMessageState,
    pub auth: OtrlAuthInfo,
    pub fingerprint_root: Fingerprint,
    pub active_fingerprint: *mut Fingerprint,
    pub sessionid: [c_uchar; 20],
    pub sessionid_len: usize,
    pub sessionid_half: OtrlSessionIdHalf,
    pub protocol_version: c_uint,
    pub otr_offer: OtrlOffer,
    pub app_data: *mut c_void,
    pub app_data_free: Option<unsafe extern "C" fn(*mut c_void)>,
    pub smstate: *mut OtrlSMState,
}

/// The libotr name of [`context`].
pub type ConnContext = context;

use core::ptr::null_mut;

use crate::context_priv::{otrl_context_priv_force_finished, otrl_context_priv_new};
use crate::ffi::{bytes, calloc, free, guard, malloc_copy, malloc_cstring};
use crate::instag::{
    otrl_instag_find, OTRL_INSTAG_BEST, OTRL_INSTAG_MASTER, OTRL_INSTAG_RECENT,
    OTRL_INSTAG_RECENT_RECEIVED, OTRL_INSTAG_RECENT_SENT, OTRL_MIN_VALID_INSTAG,
};
use crate::sm::{sm_state_reset, OtrlSMState as SmState};
use crate::userstate::OtrlUserState;

/// The callback applications pass to attach their data to new contexts.
pub type AddAppData = Option<unsafe extern "C" fn(*mut c_void, *mut ConnContext)>;

/// Allocates a context in its initial state (master of itself, PLAINTEXT).
///
/// Returns NULL when memory runs out; nothing is left allocated then.
fn new_context(user: &[u8], account: &[u8], protocol: &[u8]) -> *mut ConnContext {
    let ctx = calloc::<ConnContext>();
    let smstate = calloc::<SmState>();
    let username = malloc_cstring(user);
    let accountname = malloc_cstring(account);
    let proto = malloc_cstring(protocol);
    let cpriv = otrl_context_priv_new();
    if [
        ctx.cast::<u8>(),
        smstate.cast(),
        username.cast(),
        accountname.cast(),
        proto.cast(),
        cpriv.cast(),
    ]
    .iter()
    .any(|p| p.is_null())
    {
        // SAFETY: each pointer is NULL or was just allocated with malloc/calloc.
        unsafe {
            free(ctx);
            free(smstate);
            free(username);
            free(accountname);
            free(proto);
            crate::context_priv::context_priv_free(cpriv);
        }
        return null_mut();
    }
    // SAFETY: ctx and smstate are fresh zeroed blocks of the right types; all
    // zero bytes is the initial value of every field not set below. The
    // pointers stored into the context are `ctx` itself, never derived from
    // a reference, so they stay usable whatever else touches the context.
    unsafe {
        sm_state_reset(&mut *smstate);
        (*ctx).username = username;
        (*ctx).accountname = accountname;
        (*ctx).protocol = proto;
        (*ctx).context_priv = cpriv;
        (*ctx).smstate = smstate;
        (*ctx).m_context = ctx;
        (*ctx).auth.context = ctx;
        (*ctx).fingerprint_root.context = ctx;
    }
    ctx
}

/// Where (user, account, protocol, instance) sorts in the context list.
///
/// The list is kept sorted by username, account name, protocol, then their
/// instance tag, so a master (instance 0) always precedes its children.
/// Returns the link to insert at (or holding the match) and whether the names
/// matched there.
///
/// The link may become a new context's `tous`, so it is derived from the raw
/// user state and nodes only: a link made from a reference would stop being
/// usable as soon as the list is touched through any other pointer.
///
/// # Safety
/// `us` is a valid user state whose contexts have valid name strings.
unsafe fn locate(
    us: OtrlUserState,
    user: &[u8],
    account: &[u8],
    protocol: &[u8],
    instance: otrl_instag_t,
) -> (*mut *mut ConnContext, bool) {
    // SAFETY: us is valid; every link points at a valid context pointer or
    // NULL, and the name strings read here are not written during the walk.
    unsafe {
        let mut link: *mut *mut ConnContext = &raw mut (*us).context_root;
        while !(*link).is_null() {
            let cur = *link;
            let key = (
                bytes((*cur).username).unwrap_or_default(),
                bytes((*cur).accountname).unwrap_or_default(),
                bytes((*cur).protocol).unwrap_or_default(),
            );
            match key.cmp(&(user, account, protocol)) {
                core::cmp::Ordering::Greater => return (link, false),
                core::cmp::Ordering::Equal
                    if instance < OTRL_MIN_VALID_INSTAG || (*cur).their_instance >= instance =>
                {
                    return (link, true)
                }
                _ => link = &raw mut (*cur).next,
            }
        }
        (link, false)
    }
}

/// Finds the context for (user, accountname, protocol, their_instance),
/// creating it when `add_if_missing` is set.
///
/// `their_instance` is a real instance tag (>= 0x100), `OTRL_INSTAG_MASTER`,
/// or one of the meta tags BEST / RECENT / RECENT_RECEIVED / RECENT_SENT,
/// which select among the master's children as in 4.1.1. A new child brings
/// its master into being first if needed; `add_app_data` is called for every
/// context created. `*addedp` tells whether the asked-for context was new.
///
/// # Safety
/// `us` is a user state from `otrl_userstate_create`; the strings are NULL or
/// NUL-terminated; `addedp` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_context_find(
    us: OtrlUserState,
    user: *const c_char,
    accountname: *const c_char,
    protocol: *const c_char,
    their_instance: otrl_instag_t,
    add_if_missing: c_int,
    addedp: *mut c_int,
    add_app_data: AddAppData,
    data: *mut c_void,
) -> *mut ConnContext {
    guard(null_mut(), || {
        // SAFETY: addedp is NULL or writable per the contract.
        if let Some(a) = unsafe { addedp.as_mut() } {
            *a = 0;
        }
        // SAFETY: the strings are NULL or NUL-terminated per the contract.
        let (Some(user), Some(account), Some(proto)) =
            (unsafe { (bytes(user), bytes(accountname), bytes(protocol)) })
        else {
            return null_mut();
        };
        if us.is_null() {
            return null_mut();
        }
        // SAFETY: us is valid and its contexts are well formed.
        let (link, found) = unsafe { locate(us, user, account, proto, their_instance) };
        // SAFETY: link points at a valid slot of the list.
        let here = unsafe { *link };
        if found {
            // SAFETY: found implies `here` is a valid context.
            let here_instance = unsafe { (*here).their_instance };
            if their_instance < OTRL_MIN_VALID_INSTAG || here_instance == their_instance {
                return match their_instance {
                    // SAFETY: `here` is a live context found in the list.
                    OTRL_INSTAG_MASTER => here,
                    OTRL_INSTAG_BEST => unsafe { otrl_context_find_recent_secure_instance(here) },
                    OTRL_INSTAG_RECENT | OTRL_INSTAG_RECENT_RECEIVED | OTRL_INSTAG_RECENT_SENT => unsafe {
                        otrl_context_find_recent_instance(here, their_instance)
                    },
                    t if t >= OTRL_MIN_VALID_INSTAG => here,
                    _ => null_mut(),
                };
            }
        }
        if add_if_missing == 0 {
            return null_mut();
        }
        let ctx = new_context(user, account, proto);
        if ctx.is_null() {
            return null_mut();
        }
        // SAFETY: addedp is NULL or writable per the contract.
        if let Some(a) = unsafe { addedp.as_mut() } {
            *a = 1;
        }
        // SAFETY: ctx is a fresh context; link is a valid list slot; the
        // neighbour's back-link is updated so the list stays doubly linked.
        unsafe {
            crate::list::insert(link, ctx);
        }
        if let Some(cb) = add_app_data {
            // SAFETY: calling the application's callback with the new context.
            unsafe { cb(data, ctx) };
        }
        // The callback may have re-entered the library, and the master
        // lookup below may add a context (calling it again), both writing
        // through list links into this context: it is only ever reached
        // through the raw `ctx`, never a reference held across those calls.
        // SAFETY: ctx stays valid: nothing forgets a context during add_app_data
        // that the application could not have found.
        unsafe {
            let tag = otrl_instag_find(us, accountname, protocol);
            if !tag.is_null() {
                (*ctx).our_instance = (*tag).instag;
            }
            if their_instance >= OTRL_MIN_VALID_INSTAG || their_instance == OTRL_INSTAG_MASTER {
                (*ctx).their_instance = their_instance;
            }
            if their_instance >= OTRL_MIN_VALID_INSTAG {
                // Same names as this call (the context's copies), asking for
                // the master.
                let master = otrl_context_find(
                    us,
                    (*ctx).username,
                    (*ctx).accountname,
                    (*ctx).protocol,
                    OTRL_INSTAG_MASTER,
                    1,
                    null_mut(),
                    add_app_data,
                    data,
                );
                (*ctx).m_context = if master.is_null() { ctx } else { master };
            }
            if their_instance == OTRL_INSTAG_MASTER {
                (*ctx).recent_child = ctx;
                (*ctx).recent_rcvd_child = ctx;
                (*ctx).recent_sent_child = ctx;
            }
        }
        ctx
    })
}

/// True (1) when the fingerprint's trust is a non-empty string.
///
/// # Safety
/// `fprint` is NULL or a valid fingerprint.
#[no_mangle]
pub unsafe extern "C" fn otrl_context_is_fingerprint_trusted(fprint: *mut Fingerprint) -> c_int {
    // SAFETY: fprint is NULL or valid; trust is NULL or a C string.
    unsafe {
        if fprint.is_null() || (*fprint).trust.is_null() {
            0
        } else {
            c_int::from(*(*fprint).trust != 0)
        }
    }
}

/// Records that a child context sent (`sent_msg` != 0) or received a
/// message most recently, for the RECENT* meta instance tags.
///
/// # Safety
/// `context` is NULL or a valid context.
#[no_mangle]
pub unsafe extern "C" fn otrl_context_update_recent_child(
    context: *mut ConnContext,
    sent_msg: c_uint,
) {
    // SAFETY: context is NULL or valid, and so is its master (which may be
    // `context` itself: both are reached through raw pointers only).
    unsafe {
        if context.is_null() {
            return;
        }
        let master = (*context).m_context;
        if master.is_null() {
            return;
        }
        (*master).recent_child = context;
        if sent_msg != 0 {
            (*master).recent_sent_child = context;
        } else {
            (*master).recent_rcvd_child = context;
        }
    }
}

/// Finds the fingerprint in the master context's list, adding it (trust
/// NULL, at the head of the list) when asked; `*addedp` tells whether it
/// was added.
///
/// # Safety
/// `context` is NULL or a valid context; `fingerprint` points to 20 bytes;
/// `addedp` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_context_find_fingerprint(
    context: *mut ConnContext,
    fingerprint: *mut c_uchar,
    add_if_missing: c_int,
    addedp: *mut c_int,
) -> *mut Fingerprint {
    guard(null_mut(), || unsafe {
        // SAFETY (whole body): pointers are NULL or valid per the contract;
        // the fingerprint list is well formed. The new node's `context` and
        // `tous` point into the master: they are derived from the raw
        // `m_context`, so they stay usable when the master is later reached
        // through other pointers.
        if let Some(a) = addedp.as_mut() {
            *a = 0;
        }
        if context.is_null() {
            return null_mut();
        }
        let master = (*context).m_context;
        if master.is_null() || fingerprint.is_null() {
            return null_mut();
        }
        let want = core::slice::from_raw_parts(fingerprint, 20);
        let mut f = (*master).fingerprint_root.next;
        while !f.is_null() {
            let hash = (*f).fingerprint;
            if !hash.is_null() && core::slice::from_raw_parts(hash, 20) == want {
                return f;
            }
            f = (*f).next;
        }
        if add_if_missing == 0 {
            return null_mut();
        }
        let new = calloc::<Fingerprint>();
        let hash = malloc_copy(want);
        if new.is_null() || hash.is_null() {
            free(new);
            free(hash);
            return null_mut();
        }
        if let Some(a) = addedp.as_mut() {
            *a = 1;
        }
        (*new).fingerprint = hash;
        (*new).context = master;
        crate::list::insert(&raw mut (*master).fingerprint_root.next, new);
        new
    })
}

/// Sets the trust string of a fingerprint to a malloc'd copy of `trust`
/// (NULL clears it); the old string is freed with `free()`.
///
/// # Safety
/// `fprint` is NULL or valid; its `trust` is NULL or malloc'd; `trust` is
/// NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn otrl_context_set_trust(fprint: *mut Fingerprint, trust: *const c_char) {
    guard((), || unsafe {
        // SAFETY: per the contract.
        if fprint.is_null() {
            return;
        }
        free((*fprint).trust);
        (*fprint).trust = match bytes(trust) {
            Some(t) => malloc_cstring(t),
            None => null_mut(),
        };
    })
}

/// Ends the private conversation locally: FINISHED state, keys wiped.
///
/// # Safety
/// `context` is NULL or a valid context.
#[no_mangle]
pub unsafe extern "C" fn otrl_context_force_finished(context: *mut ConnContext) {
    guard((), || unsafe {
        // SAFETY: per the contract. The context is reached through the raw
        // pointer field by field: a reference to all of it would also cover
        // `fingerprint_root.next`, a list link that others write through.
        if context.is_null() {
            return;
        }
        (*context).msgstate = OtrlMessageStateValues::OTRL_MSGSTATE_FINISHED as c_uint;
        crate::auth::auth_clear(&mut (*context).auth);
        (*context).active_fingerprint = null_mut();
        (*context).sessionid = [0; 20];
        (*context).sessionid_len = 0;
        (*context).protocol_version = 0;
        if let Some(sm) = (*context).smstate.as_mut() {
            sm_state_reset(sm);
        }
        otrl_context_priv_force_finished((*context).context_priv);
    })
}

/// Drops back to PLAINTEXT, wiping all private state.
///
/// # Safety
/// `context` is NULL or a valid context.
#[no_mangle]
pub unsafe extern "C" fn otrl_context_force_plaintext(context: *mut ConnContext) {
    // SAFETY: per the contract.
    unsafe {
        otrl_context_force_finished(context);
        if !context.is_null() {
            (*context).msgstate = OtrlMessageStateValues::OTRL_MSGSTATE_PLAINTEXT as c_uint;
        }
    }
}

/// Forgets a fingerprint, and with `and_maybe_context` also its context
/// when that leaves it with no fingerprints and in PLAINTEXT.
///
/// A fingerprint in use by an encrypted conversation (of the master or any of
/// its children) is kept. Unlike 4.1.1, children that still point at a
/// forgotten fingerprint have their `active_fingerprint` cleared instead of
/// left dangling.
///
/// # Safety
/// `fprint` is NULL or a valid fingerprint whose context is valid.
#[no_mangle]
pub unsafe extern "C" fn otrl_context_forget_fingerprint(
    fprint: *mut Fingerprint,
    and_maybe_context: c_int,
) {
    guard((), || unsafe {
        // SAFETY: per the contract; the list links are well formed. The
        // fingerprint and its context are reached through raw pointers
        // only: unlinking writes the context's `fingerprint_root.next` (or
        // a neighbour's `next`) through `tous`, which would invalidate any
        // reference held to them.
        if fprint.is_null() {
            return;
        }
        let ctx = (*fprint).context;
        if ctx.is_null() {
            return;
        }
        let plaintext = OtrlMessageStateValues::OTRL_MSGSTATE_PLAINTEXT as c_uint;
        if core::ptr::eq(fprint, &raw mut (*ctx).fingerprint_root) {
            if (*ctx).msgstate == plaintext && and_maybe_context != 0 {
                otrl_context_forget(ctx);
            }
            return;
        }
        if family_uses_encrypted(ctx, fprint) {
            return;
        }
        for_each_family_member(ctx, |m| {
            if (*m).active_fingerprint == fprint {
                (*m).active_fingerprint = null_mut();
            }
        });
        free((*fprint).fingerprint);
        free((*fprint).trust);
        crate::list::unlink(fprint);
        free(fprint);
        if (*ctx).msgstate == plaintext
            && (*ctx).fingerprint_root.next.is_null()
            && and_maybe_context != 0
        {
            otrl_context_forget(ctx);
        }
    })
}

/// Calls `f` on the master and each of its children.
///
/// # Safety
/// `master` is a valid context in a well-formed list.
unsafe fn for_each_family_member(master: *mut ConnContext, mut f: impl FnMut(*mut ConnContext)) {
    let mut cur = master;
    // SAFETY: children follow their master directly in the list; `f` gets a
    // raw pointer so that callers may compare it with others they hold.
    unsafe {
        while !cur.is_null() && (*cur).m_context == master {
            let next = (*cur).next;
            f(cur);
            cur = next;
        }
    }
}

/// Whether any member of the master's family is ENCRYPTED with `fprint`.
///
/// # Safety
/// As [`for_each_family_member`].
unsafe fn family_uses_encrypted(master: *mut ConnContext, fprint: *mut Fingerprint) -> bool {
    let mut used = false;
    let encrypted = OtrlMessageStateValues::OTRL_MSGSTATE_ENCRYPTED as c_uint;
    // SAFETY: per the contract.
    unsafe {
        for_each_family_member(master, |m| {
            used |= (*m).msgstate == encrypted && (*m).active_fingerprint == fprint;
        })
    };
    used
}

/// Forgets a context: returns 1 and does nothing if it is ENCRYPTED,
/// otherwise frees it (calling `app_data_free`) and returns 0.
///
/// Forgetting a master also forgets its children (refused, returning 1, if
/// any of them is ENCRYPTED), so no child is ever left with a dangling
/// `m_context`.
///
/// # Safety
/// `context` is NULL or a valid context of a user state.
#[no_mangle]
pub unsafe extern "C" fn otrl_context_forget(context: *mut ConnContext) -> c_int {
    guard(1, || unsafe {
        // SAFETY: per the contract; the list links are well formed. Raw
        // accesses only: destroying a child relinks this context's `next`
        // through the child's `tous`.
        if context.is_null() {
            return 0;
        }
        let encrypted = OtrlMessageStateValues::OTRL_MSGSTATE_ENCRYPTED as c_uint;
        if (*context).m_context == context {
            let mut busy = false;
            for_each_family_member(context, |m| busy |= (*m).msgstate == encrypted);
            if busy {
                return 1;
            }
            while !(*context).next.is_null() && (*(*context).next).m_context == context {
                destroy_context((*context).next);
            }
        } else if (*context).msgstate == encrypted {
            return 1;
        }
        destroy_context(context);
        0
    })
}

/// Unlinks and frees one context (not its children).
///
/// # Safety
/// `ctx` is a valid, linked context that is not ENCRYPTED.
unsafe fn destroy_context(ctx: *mut ConnContext) {
    // SAFETY: per the contract. Only raw accesses to the context: forgetting
    // its fingerprints writes its `fingerprint_root.next`, unlinking writes
    // through its neighbours, `app_data_free` is application code, and the
    // master may be this very context.
    unsafe {
        otrl_context_force_plaintext(ctx);
        while !(*ctx).fingerprint_root.next.is_null() {
            otrl_context_forget_fingerprint((*ctx).fingerprint_root.next, 0);
        }
        // A child may still hold this context as its master's recent child.
        let m = (*ctx).m_context;
        if !m.is_null()
            && ((*m).recent_child == ctx
                || (*m).recent_rcvd_child == ctx
                || (*m).recent_sent_child == ctx)
        {
            (*m).recent_child = m;
            (*m).recent_rcvd_child = m;
            (*m).recent_sent_child = m;
        }
        if let (Some(free_fn), false) = ((*ctx).app_data_free, (*ctx).app_data.is_null()) {
            free_fn((*ctx).app_data);
        }
        (*ctx).app_data = null_mut();
        crate::list::unlink(ctx);
        free((*ctx).username);
        free((*ctx).accountname);
        free((*ctx).protocol);
        if let Some(sm) = (*ctx).smstate.as_mut() {
            sm_state_reset(sm);
        }
        free((*ctx).smstate);
        crate::context_priv::context_priv_free((*ctx).context_priv);
        free(ctx);
    }
}

/// Forgets every context of the user state, whatever its state.
///
/// # Safety
/// `us` is NULL or a valid user state.
#[no_mangle]
pub unsafe extern "C" fn otrl_context_forget_all(us: OtrlUserState) {
    guard((), || unsafe {
        // SAFETY: per the contract.
        if us.is_null() {
            return;
        }
        while !(*us).context_root.is_null() {
            let root = (*us).context_root;
            for_each_family_member(root, |m| otrl_context_force_plaintext(m));
            otrl_context_force_plaintext(root);
            if otrl_context_forget(root) != 0 {
                destroy_context(root);
            }
        }
    })
}

/// The master's most recent child for a RECENT* meta tag, or NULL.
///
/// # Safety
/// `context` is NULL or a valid context.
#[no_mangle]
pub unsafe extern "C" fn otrl_context_find_recent_instance(
    context: *mut ConnContext,
    recent_instag: otrl_instag_t,
) -> *mut ConnContext {
    // SAFETY: context and its master are NULL or valid.
    unsafe {
        if context.is_null() {
            return null_mut();
        }
        let m = (*context).m_context;
        if m.is_null() {
            return null_mut();
        }
        match recent_instag {
            OTRL_INSTAG_RECENT => (*m).recent_child,
            OTRL_INSTAG_RECENT_RECEIVED => (*m).recent_rcvd_child,
            OTRL_INSTAG_RECENT_SENT => (*m).recent_sent_child,
            _ => null_mut(),
        }
    }
}

/// The "best" member of a context's family: ENCRYPTED beats FINISHED beats
/// PLAINTEXT, then a trusted fingerprint, then the most recent receipt (on
/// a tie the later member in the list wins, as in 4.1.1).
///
/// # Safety
/// `context` is NULL or a valid context.
#[no_mangle]
pub unsafe extern "C" fn otrl_context_find_recent_secure_instance(
    context: *mut ConnContext,
) -> *mut ConnContext {
    // SAFETY: context is NULL or valid, as are its family members. The
    // result is handed to callers who write through it, so it is one of the
    // raw pointers of the list, never one made from a shared reference.
    unsafe {
        if context.is_null() {
            return null_mut();
        }
        let master = (*context).m_context;
        let mut best = context;
        for_each_family_member(master, |cand_ptr| {
            let (b, cand) = (&*best, &*cand_ptr);
            let rank = |s: c_uint| match s {
                1 => 2, // ENCRYPTED
                2 => 1, // FINISHED
                _ => 0,
            };
            let state = rank(cand.msgstate).cmp(&rank(b.msgstate));
            let trust = otrl_context_is_fingerprint_trusted(cand.active_fingerprint)
                .cmp(&otrl_context_is_fingerprint_trusted(b.active_fingerprint));
            let recv = |x: &ConnContext| x.context_priv.as_ref().map_or(0, |p| p.lastrecv);
            use core::cmp::Ordering::*;
            let better = match (state, trust) {
                (Greater, _) => true,
                (Equal, Greater) => true,
                (Equal, Equal) => recv(cand) >= recv(b),
                _ => false,
            };
            if better {
                best = cand_ptr;
            }
        });
        best
    }
}
