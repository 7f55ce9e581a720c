//! `tlv.h`: type/length/value records carried inside data messages.

use core::ffi::{c_uchar, c_ushort};

/// One TLV in a singly linked list; `data` is malloc'd, `len` bytes.
#[repr(C)]
pub struct s_OtrlTLV {
    pub r#type: c_ushort,
    pub len: c_ushort,
    pub data: *mut c_uchar,
    pub next: *mut s_OtrlTLV,
}

/// The libotr name of [`s_OtrlTLV`].
pub type OtrlTLV = s_OtrlTLV;

pub const OTRL_TLV_PADDING: c_ushort = 0x0000;
pub const OTRL_TLV_DISCONNECTED: c_ushort = 0x0001;
pub const OTRL_TLV_SMP1: c_ushort = 0x0002;
pub const OTRL_TLV_SMP2: c_ushort = 0x0003;
pub const OTRL_TLV_SMP3: c_ushort = 0x0004;
pub const OTRL_TLV_SMP4: c_ushort = 0x0005;
pub const OTRL_TLV_SMP_ABORT: c_ushort = 0x0006;
pub const OTRL_TLV_SMP1Q: c_ushort = 0x0007;
pub const OTRL_TLV_SYMKEY: c_ushort = 0x0008;

use core::ptr::null_mut;

use crate::ffi::{calloc, free, guard};

/// A new TLV holding a copy of `len` bytes of `data`; the copy is followed
/// by a NUL byte (not counted in `len`) so text payloads can be read as C
/// strings. Returns NULL when memory runs out.
///
/// # Safety
/// `data` is readable for `len` bytes (it may be NULL when `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn otrl_tlv_new(
    r#type: c_ushort,
    len: c_ushort,
    data: *const c_uchar,
) -> *mut OtrlTLV {
    guard(null_mut(), || {
        let n = usize::from(len);
        if data.is_null() && n != 0 {
            return null_mut();
        }
        let tlv = calloc::<OtrlTLV>();
        // SAFETY: malloc'd block of n+1 bytes; data readable for n bytes.
        unsafe {
            let buf = libc::malloc(n + 1).cast::<c_uchar>();
            if tlv.is_null() || buf.is_null() {
                free(tlv);
                free(buf);
                return null_mut();
            }
            if n != 0 {
                core::ptr::copy_nonoverlapping(data, buf, n);
            }
            *buf.add(n) = 0;
            (*tlv).r#type = r#type;
            (*tlv).len = len;
            (*tlv).data = buf;
        }
        tlv
    })
}

/// Parses serialized TLVs into a malloc'd list (NULL when there are none).
/// A trailing TLV cut short is dropped, as in 4.1.1.
///
/// # Safety
/// `serialized` is readable for `seriallen` bytes (or NULL with 0).
#[no_mangle]
pub unsafe extern "C" fn otrl_tlv_parse(
    serialized: *const c_uchar,
    seriallen: usize,
) -> *mut OtrlTLV {
    guard(null_mut(), || {
        if serialized.is_null() || seriallen == 0 {
            return null_mut();
        }
        // SAFETY: readable for seriallen bytes per the contract.
        let input = unsafe { core::slice::from_raw_parts(serialized, seriallen) };
        // SAFETY: the produced list is built from fresh nodes.
        unsafe { list_from(&otr_core::tlv::parse(input)) }
    })
}

/// Builds a C list from engine TLVs (NULL if empty or out of memory).
///
/// # Safety
/// Always safe to call; `unsafe` because it hands out raw ownership.
pub(crate) unsafe fn list_from(tlvs: &[otr_core::tlv::Tlv]) -> *mut OtrlTLV {
    let mut head: *mut OtrlTLV = null_mut();
    let mut tail: *mut *mut OtrlTLV = &mut head;
    for t in tlvs {
        let Ok(len) = c_ushort::try_from(t.data.len()) else {
            break;
        };
        // SAFETY: t.data is readable for len bytes; tail points at the
        // last link of the list being built.
        unsafe {
            let node = otrl_tlv_new(t.tlv_type, len, t.data.as_ptr());
            if node.is_null() {
                otrl_tlv_free(head);
                return null_mut();
            }
            *tail = node;
            tail = &mut (*node).next;
        }
    }
    head
}

/// Frees a whole TLV list.
///
/// # Safety
/// `tlv` is NULL or a list made by this library (or with malloc'd nodes and
/// data), not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn otrl_tlv_free(tlv: *mut OtrlTLV) {
    let mut cur = tlv;
    // SAFETY: each node and its data are malloc'd per the contract.
    unsafe {
        while let Some(t) = cur.as_mut() {
            let next = t.next;
            free(t.data);
            free(cur);
            cur = next;
        }
    }
}

/// The number of bytes [`otrl_tlv_serialize`] writes for the whole list.
///
/// # Safety
/// `tlv` is NULL or a valid list.
#[no_mangle]
pub unsafe extern "C" fn otrl_tlv_seriallen(tlv: *const OtrlTLV) -> usize {
    let mut total = 0usize;
    let mut cur = tlv;
    // SAFETY: the list is valid per the contract.
    unsafe {
        while let Some(t) = cur.as_ref() {
            total += 4 + usize::from(t.len);
            cur = t.next;
        }
    }
    total
}

/// Writes the whole list as type (2 bytes), length (2 bytes), data.
///
/// # Safety
/// `buf` has room for `otrl_tlv_seriallen(tlv)` bytes; `tlv` is NULL or a
/// valid list whose nodes' data hold `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn otrl_tlv_serialize(buf: *mut c_uchar, tlv: *const OtrlTLV) {
    if buf.is_null() {
        return;
    }
    let mut out = buf;
    let mut cur = tlv;
    // SAFETY: the caller sized buf with otrl_tlv_seriallen.
    unsafe {
        while let Some(t) = cur.as_ref() {
            let head = [
                (t.r#type >> 8) as u8,
                t.r#type as u8,
                (t.len >> 8) as u8,
                t.len as u8,
            ];
            core::ptr::copy_nonoverlapping(head.as_ptr(), out, 4);
            out = out.add(4);
            if t.len != 0 && !t.data.is_null() {
                core::ptr::copy_nonoverlapping(t.data, out, usize::from(t.len));
            }
            out = out.add(usize::from(t.len));
            cur = t.next;
        }
    }
}

/// The first TLV of the given type in the list, or NULL.
///
/// # Safety
/// `tlvs` is NULL or a valid list.
#[no_mangle]
pub unsafe extern "C" fn otrl_tlv_find(tlvs: *mut OtrlTLV, r#type: c_ushort) -> *mut OtrlTLV {
    let mut cur = tlvs;
    // SAFETY: the list is valid per the contract.
    unsafe {
        while let Some(t) = cur.as_ref() {
            if t.r#type == r#type {
                return cur;
            }
            cur = t.next;
        }
    }
    null_mut()
}
