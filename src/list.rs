//! libotr's intrusive doubly linked lists (contexts, fingerprints, private
//! keys, pending keys, instance tags).
//!
//! Each node holds `next` and `tous`, the address of the pointer that points
//! at it (the list head in the user state or the previous node's `next`).
//! Applications walk these lists directly, so their shape is libotr's. The
//! links alias one another and the user state, so they are only ever touched
//! through raw places here: a `&mut` to the user state held across a link
//! update would be invalidated by it.

use crate::context::{context, s_fingerprint};
use crate::instag::s_OtrlInsTag;
use crate::privkey_t::{s_OtrlPendingPrivKey, s_OtrlPrivKey};

/// A node of one of libotr's lists.
pub(crate) trait Node: Sized {
    /// The place of `node`'s `next` field.
    ///
    /// # Safety
    /// `node` points to a live node.
    unsafe fn next_of(node: *mut Self) -> *mut *mut Self;
    /// The place of `node`'s `tous` field.
    ///
    /// # Safety
    /// `node` points to a live node.
    unsafe fn tous_of(node: *mut Self) -> *mut *mut *mut Self;
}

macro_rules! node {
    ($($t:ty),*) => {$(
        impl Node for $t {
            unsafe fn next_of(node: *mut Self) -> *mut *mut Self {
                // SAFETY: node is live per the contract.
                unsafe { &raw mut (*node).next }
            }
            unsafe fn tous_of(node: *mut Self) -> *mut *mut *mut Self {
                // SAFETY: node is live per the contract.
                unsafe { &raw mut (*node).tous }
            }
        }
    )*};
}
node!(
    context,
    s_fingerprint,
    s_OtrlInsTag,
    s_OtrlPrivKey,
    s_OtrlPendingPrivKey
);

/// Links `node` in at `link` (a list head, or some node's `next`), in front
/// of the node that was there.
///
/// # Safety
/// `link` is a valid place of a well-formed list; `node` is live and not in
/// any list.
pub(crate) unsafe fn insert<T: Node>(link: *mut *mut T, node: *mut T) {
    // SAFETY: per the contract; the old occupant of *link is NULL or live.
    unsafe {
        let after = *link;
        *T::next_of(node) = after;
        if !after.is_null() {
            *T::tous_of(after) = T::next_of(node);
        }
        *link = node;
        *T::tous_of(node) = link;
    }
}

/// Takes `node` out of its list (a node whose `tous` is NULL is in none);
/// it is not freed.
///
/// # Safety
/// `node` is live and its links are well formed.
pub(crate) unsafe fn unlink<T: Node>(node: *mut T) {
    // SAFETY: per the contract.
    unsafe {
        let tous = *T::tous_of(node);
        let next = *T::next_of(node);
        if !tous.is_null() {
            *tous = next;
        }
        if !next.is_null() {
            *T::tous_of(next) = tous;
        }
    }
}
