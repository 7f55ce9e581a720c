//! `sm.h`: the Socialist Millionaires' Protocol state.

use core::ffi::{c_int, c_uchar, c_uint};
use core::ptr::null_mut;

use otr_core::error::{code, OtrError};
use otr_core::smp::{Expect, Progress, SmpState, SmpValues};
use zeroize::Zeroizing;

use crate::dh::mpi_slot_clear;
use crate::ffi::{free, guard, malloc_copy};
use crate::gcry::{gcry_error_t, gcry_mpi_t, mpi_new, mpi_ref};

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

/// Frees what an SMP state holds and starts it afresh, as 4.1.1 does: the
/// secret and g2, g3, g3o, p, q, pab, qab become zero numbers, g1 the
/// generator 2, x2 and x3 NULL; expecting SMP1, no question, progress OK.
///
/// # Safety
/// `smst` is NULL or a valid SMP state (its slots NULL or libotr-rs
/// numbers, as after [`otrl_sm_state_new`]).
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_state_init(smst: *mut OtrlSMState) {
    guard((), || {
        // SAFETY: valid per the contract.
        let Some(s) = (unsafe { smst.as_mut() }) else {
            return;
        };
        sm_state_reset(s);
        s.secret = mpi_new(&[]);
        s.g1 = mpi_new(&[GENERATOR]);
        for slot in [
            &mut s.g2, &mut s.g3, &mut s.g3o, &mut s.p, &mut s.q, &mut s.pab, &mut s.qab,
        ] {
            *slot = mpi_new(&[]);
        }
    })
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

/// The SMP group's generator, g1.
const GENERATOR: u8 = 2;

/// `GPG_ERR_INV_VALUE` in libotr's error source.
fn inv_value() -> gcry_error_t {
    OtrError::libotr(code::INV_VALUE).value()
}

/// The number in a slot as big-endian bytes; None for NULL or a pointer
/// that is not a libotr-rs number.
///
/// # Safety
/// `slot` is NULL or a live libotr-rs number (or readable foreign memory).
unsafe fn slot_bytes(slot: gcry_mpi_t) -> Option<Zeroizing<Vec<u8>>> {
    // SAFETY: per the contract.
    unsafe { mpi_ref(slot) }.map(|m| Zeroizing::new(m.bytes.to_vec()))
}

/// The engine state behind the numbers and fields of a C SMP state.
///
/// # Safety
/// The slots of `s` are NULL or live libotr-rs numbers.
unsafe fn load(s: &OtrlSMState) -> SmpState {
    // SAFETY: per the contract.
    let get = |slot: gcry_mpi_t| unsafe { slot_bytes(slot) }.unwrap_or_default();
    // SAFETY: per the contract.
    let secret = match unsafe { slot_bytes(s.secret) } {
        // A zero secret is still a secret (4.1.1 computes with it).
        Some(b) if b.is_empty() => Zeroizing::new(vec![0]),
        Some(b) => b,
        None => Zeroizing::default(),
    };
    let values = SmpValues {
        secret,
        x2: get(s.x2),
        x3: get(s.x3),
        g1: vec![GENERATOR],
        g2: get(s.g2),
        g3: get(s.g3),
        g3o: get(s.g3o).to_vec(),
        p: get(s.p).to_vec(),
        q: get(s.q).to_vec(),
        pab: get(s.pab).to_vec(),
        qab: get(s.qab).to_vec(),
    };
    let expected = i32::try_from(s.nextExpected)
        .ok()
        .and_then(Expect::from_libotr)
        .unwrap_or_default();
    let progress = Progress::from_libotr(s.sm_prog_state).unwrap_or_default();
    SmpState::from_values(&values, expected, progress, s.received_question != 0)
}

/// Puts a number into a slot, freeing what it held. An empty (zero) value
/// leaves the slot NULL when `null_when_zero` or when it was NULL.
fn put(slot: &mut gcry_mpi_t, bytes: &[u8], null_when_zero: bool) {
    let keep_null = bytes.is_empty() && (null_when_zero || slot.is_null());
    mpi_slot_clear(slot);
    if !keep_null {
        *slot = mpi_new(bytes);
    }
}

/// Writes the engine's numbers, progress and `received_question` back into
/// the C state (g1 and `nextExpected`, which the steps never change, stay).
fn store(s: &mut OtrlSMState, st: &SmpState) {
    let v = st.values();
    put(&mut s.secret, &v.secret, false);
    put(&mut s.x2, &v.x2, true);
    put(&mut s.x3, &v.x3, true);
    put(&mut s.g2, &v.g2, false);
    put(&mut s.g3, &v.g3, false);
    put(&mut s.g3o, &v.g3o, false);
    put(&mut s.p, &v.p, false);
    put(&mut s.q, &v.q, false);
    put(&mut s.pab, &v.pab, false);
    put(&mut s.qab, &v.qab, false);
    s.received_question = c_int::from(st.received_question());
    s.sm_prog_state = st.progress().to_libotr();
}

/// The bytes of a caller's buffer; a NULL pointer or a negative length
/// reads as empty.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes that outlive `'a`.
unsafe fn input<'a>(p: *const c_uchar, len: c_int) -> &'a [u8] {
    match usize::try_from(len) {
        // SAFETY: per the contract.
        Ok(n) if n > 0 && !p.is_null() => unsafe { core::slice::from_raw_parts(p, n) },
        _ => &[],
    }
}

/// Hands a message to the caller as a malloc'd buffer.
///
/// # Safety
/// `output` and `outputlen` are NULL or writable.
unsafe fn emit(msg: &[u8], output: *mut *mut c_uchar, outputlen: *mut c_int) {
    // SAFETY: per the contract.
    unsafe {
        if let Some(out) = output.as_mut() {
            *out = malloc_copy(msg);
        }
        if let Some(len) = outputlen.as_mut() {
            *len = c_int::try_from(msg.len()).unwrap_or(c_int::MAX);
        }
    }
}

/// Runs `f` on the engine state behind `smst` and writes the state back.
/// `GPG_ERR_INV_VALUE` for a NULL state.
///
/// # Safety
/// `smst` is NULL or a valid SMP state whose slots are NULL or libotr-rs
/// numbers.
unsafe fn with_state(
    smst: *mut OtrlSMState,
    f: impl FnOnce(&mut SmpState) -> gcry_error_t,
) -> gcry_error_t {
    // SAFETY: per the contract.
    let Some(s) = (unsafe { smst.as_mut() }) else {
        return inv_value();
    };
    // SAFETY: per the contract.
    let mut st = unsafe { load(s) };
    let err = f(&mut st);
    store(s, &st);
    err
}

/// Alice starts an SMP exchange with her (hashed) secret: draws a2 and a3
/// and writes SMP message 1 to `*output` (malloc'd; free it with `free`)
/// and its length to `*outputlen`. The progress becomes OK. Always 0 for a
/// non-NULL state.
///
/// # Safety
/// `astate` is NULL or a valid SMP state (slots NULL or libotr-rs numbers);
/// `secret` points to `secretlen` readable bytes; `output` and
/// `outputlen` are writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_step1(
    astate: *mut OtrlSMAliceState,
    secret: *const c_uchar,
    secretlen: c_int,
    output: *mut *mut c_uchar,
    outputlen: *mut c_int,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract.
        let secret = unsafe { input(secret, secretlen) };
        // SAFETY: per the contract.
        unsafe {
            with_state(astate, |st| {
                let msg = st.step1(secret);
                emit(&msg, output, outputlen);
                0
            })
        }
    })
}

/// Bob receives SMP message 1 (`received_question` is 1 when it came in an
/// SMP1Q TLV): checks its proofs and draws b2 and b3. `GPG_ERR_INV_VALUE`
/// with progress CHEATED for a refused message, else 0 with progress OK.
///
/// # Safety
/// `bstate` is NULL or a valid SMP state (slots NULL or libotr-rs numbers);
/// `input` points to `inputlen` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_step2a(
    bstate: *mut OtrlSMBobState,
    input: *const c_uchar,
    inputlen: c_int,
    received_question: c_int,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract.
        let msg = unsafe { self::input(input, inputlen) };
        // SAFETY: per the contract.
        unsafe {
            with_state(bstate, |st| match st.step2a(msg, received_question != 0) {
                Ok(()) => 0,
                Err(e) => e.value(),
            })
        }
    })
}

/// Bob answers an accepted SMP message 1 with his (hashed) secret and
/// writes SMP message 2 to `*output` (malloc'd) and its length to
/// `*outputlen`. The progress is left alone. `GPG_ERR_INV_VALUE`, with no
/// output, when no SMP message 1 was accepted before.
///
/// # Safety
/// As [`otrl_sm_step1`].
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_step2b(
    bstate: *mut OtrlSMBobState,
    secret: *const c_uchar,
    secretlen: c_int,
    output: *mut *mut c_uchar,
    outputlen: *mut c_int,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract.
        let secret = unsafe { input(secret, secretlen) };
        // SAFETY: per the contract.
        unsafe {
            with_state(bstate, |st| match st.step2b(secret) {
                Ok(msg) => {
                    emit(&msg, output, outputlen);
                    0
                }
                Err(e) => e.value(),
            })
        }
    })
}

/// Alice receives SMP message 2, checks it and writes SMP message 3 to
/// `*output` (malloc'd) and its length to `*outputlen`. A refused message
/// gives `GPG_ERR_INV_VALUE`, progress CHEATED and no output; otherwise the
/// progress is OK.
///
/// # Safety
/// `astate` is NULL or a valid SMP state (slots NULL or libotr-rs numbers);
/// `input` points to `inputlen` readable bytes; `output` and `outputlen`
/// are writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_step3(
    astate: *mut OtrlSMAliceState,
    input: *const c_uchar,
    inputlen: c_int,
    output: *mut *mut c_uchar,
    outputlen: *mut c_int,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract.
        let msg = unsafe { self::input(input, inputlen) };
        // SAFETY: per the contract.
        unsafe {
            with_state(astate, |st| match st.step3(msg) {
                Ok(out) => {
                    emit(&out, output, outputlen);
                    0
                }
                Err(e) => e.value(),
            })
        }
    })
}

/// Bob receives SMP message 3, checks it, writes SMP message 4 to
/// `*output` (malloc'd) and its length to `*outputlen`, and compares the
/// secrets: 0 with progress SUCCEEDED, or `GPG_ERR_INV_VALUE` with progress
/// FAILED (SMP message 4 is produced either way). A refused message gives
/// `GPG_ERR_INV_VALUE`, progress CHEATED and no output.
///
/// # Safety
/// As [`otrl_sm_step3`].
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_step4(
    bstate: *mut OtrlSMBobState,
    input: *const c_uchar,
    inputlen: c_int,
    output: *mut *mut c_uchar,
    outputlen: *mut c_int,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract.
        let msg = unsafe { self::input(input, inputlen) };
        // SAFETY: per the contract.
        unsafe {
            with_state(bstate, |st| match st.step4(msg) {
                Ok(out) => {
                    emit(&out.payload, output, outputlen);
                    match out.result {
                        Ok(()) => 0,
                        Err(e) => e.value(),
                    }
                }
                Err(e) => e.value(),
            })
        }
    })
}

/// Alice receives SMP message 4, checks it and compares the secrets: 0 with
/// progress SUCCEEDED, or `GPG_ERR_INV_VALUE` with progress FAILED; a
/// refused message gives `GPG_ERR_INV_VALUE` with progress CHEATED.
///
/// # Safety
/// `astate` is NULL or a valid SMP state (slots NULL or libotr-rs numbers);
/// `input` points to `inputlen` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_step5(
    astate: *mut OtrlSMAliceState,
    input: *const c_uchar,
    inputlen: c_int,
) -> gcry_error_t {
    guard(inv_value(), || {
        // SAFETY: per the contract.
        let msg = unsafe { self::input(input, inputlen) };
        // SAFETY: per the contract.
        unsafe {
            with_state(astate, |st| match st.step5(msg) {
                Ok(()) => 0,
                Err(e) => e.value(),
            })
        }
    })
}

/// Allocates the array of an SMP message's numbers, as 4.1.1's (exported,
/// undeclared) helpers do: `len` slots, zero numbers except NULL at the
/// hash positions in `hashes`.
///
/// # Safety
/// `message` is NULL or writable.
unsafe fn msg_init(message: *mut *mut gcry_mpi_t, len: usize, hashes: &[usize]) {
    // SAFETY: per the contract; the array is malloc'd with room for `len`
    // pointers and every slot is written before it is handed out.
    unsafe {
        let Some(out) = message.as_mut() else {
            return;
        };
        let arr = libc::malloc(len * core::mem::size_of::<gcry_mpi_t>()).cast::<gcry_mpi_t>();
        if !arr.is_null() {
            for i in 0..len {
                let v = if hashes.contains(&i) {
                    null_mut()
                } else {
                    mpi_new(&[])
                };
                arr.add(i).write(v);
            }
        }
        *out = arr;
    }
}

/// Allocates the six numbers of SMP message 1 (g2a, c2, D2, g3a, c3, D3;
/// the hashes c2 and c3 start NULL) into `*msg1`. Exported by 4.1.1 but not
/// declared in its `sm.h`; free with [`otrl_sm_msg_free`].
///
/// # Safety
/// `msg1` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_msg1_init(msg1: *mut *mut gcry_mpi_t) {
    // SAFETY: per the contract.
    guard((), || unsafe { msg_init(msg1, 6, &[1, 4]) })
}

/// Allocates the eleven numbers of SMP message 2 (g2b, c2, D2, g3b, c3,
/// D3, Pb, Qb, cP, D5, D6; the hashes start NULL) into `*msg2`.
///
/// # Safety
/// `msg2` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_msg2_init(msg2: *mut *mut gcry_mpi_t) {
    // SAFETY: per the contract.
    guard((), || unsafe { msg_init(msg2, 11, &[1, 4, 8]) })
}

/// Allocates the eight numbers of SMP message 3 (Pa, Qa, cP, D5, D6, Ra,
/// cR, D7; the hashes start NULL) into `*msg3`.
///
/// # Safety
/// `msg3` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_msg3_init(msg3: *mut *mut gcry_mpi_t) {
    // SAFETY: per the contract.
    guard((), || unsafe { msg_init(msg3, 8, &[2, 6]) })
}

/// Allocates the three numbers of SMP message 4 (Rb, cR, D7; the hash
/// starts NULL) into `*msg4`.
///
/// # Safety
/// `msg4` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_msg4_init(msg4: *mut *mut gcry_mpi_t) {
    // SAFETY: per the contract.
    guard((), || unsafe { msg_init(msg4, 3, &[1]) })
}

/// Frees the first `msglen` numbers of a message array made by one of the
/// `otrl_sm_msgN_init` functions, then the array, and sets `*message` to
/// NULL.
///
/// # Safety
/// `message` is NULL or points to NULL or to an array of at least `msglen`
/// slots, each NULL or a live libotr-rs number, allocated with malloc.
#[no_mangle]
pub unsafe extern "C" fn otrl_sm_msg_free(message: *mut *mut gcry_mpi_t, msglen: c_int) {
    guard((), || {
        // SAFETY: per the contract.
        unsafe {
            let Some(slot) = message.as_mut() else {
                return;
            };
            let arr = *slot;
            if !arr.is_null() {
                for i in 0..usize::try_from(msglen).unwrap_or(0) {
                    mpi_slot_clear(&mut *arr.add(i));
                }
                free(arr);
            }
            *slot = null_mut();
        }
    })
}
