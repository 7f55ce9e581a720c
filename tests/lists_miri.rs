//! The intrusive lists (contexts, fingerprints, instance tags, pending key
//! generations) exercised through the C API, for Miri's aliasing models:
//!
//! ```sh
//! MIRIFLAGS=-Zmiri-disable-isolation cargo +nightly miri test --test lists_miri
//! MIRIFLAGS="-Zmiri-disable-isolation -Zmiri-tree-borrows" cargo +nightly miri test --test lists_miri
//! ```
//!
//! They also run as ordinary tests. Loading private keys is not covered:
//! it looks for the process's libgcrypt with `dlopen`, which Miri cannot run.

use core::ffi::{c_int, c_void};
use core::ptr::null_mut;
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use otr::context::*;
use otr::instag::*;
use otr::privkey::*;
use otr::userstate::*;

const P: &core::ffi::CStr = c"p";
const ALICE: &core::ffi::CStr = c"alice";

/// Finds (or adds) the context of `user` with `alice` on protocol `p`.
///
/// # Safety
/// `us` is a valid user state.
unsafe fn find(
    us: OtrlUserState,
    user: &core::ffi::CStr,
    instance: u32,
    add: c_int,
) -> *mut ConnContext {
    // SAFETY: valid user state and C strings.
    unsafe {
        otrl_context_find(
            us,
            user.as_ptr(),
            ALICE.as_ptr(),
            P.as_ptr(),
            instance,
            add,
            null_mut(),
            None,
            null_mut(),
        )
    }
}

/// The contexts of the user state, in list order, checking every back-link.
///
/// # Safety
/// `us` is a valid user state.
unsafe fn contexts(us: OtrlUserState) -> Vec<*mut ConnContext> {
    let mut out = Vec::new();
    // SAFETY: the list is well formed (which this checks).
    unsafe {
        let mut link: *mut *mut ConnContext = &raw mut (*us).context_root;
        while !(*link).is_null() {
            let c = *link;
            assert_eq!((*c).tous, link);
            out.push(c);
            link = &raw mut (*c).next;
        }
    }
    out
}

/// The fingerprints of a master context, in list order, checking links.
///
/// # Safety
/// `master` is a valid master context.
unsafe fn fingerprints(master: *mut ConnContext) -> Vec<*mut Fingerprint> {
    let mut out = Vec::new();
    // SAFETY: the list is well formed (which this checks).
    unsafe {
        let mut link: *mut *mut Fingerprint = &raw mut (*master).fingerprint_root.next;
        while !(*link).is_null() {
            let f = *link;
            assert_eq!((*f).tous, link);
            assert_eq!((*f).context, master);
            out.push(f);
            link = &raw mut (*f).next;
        }
    }
    out
}

/// The instance tags of the user state, checking every back-link.
///
/// # Safety
/// `us` is a valid user state.
unsafe fn instags(us: OtrlUserState) -> Vec<u32> {
    let mut out = Vec::new();
    // SAFETY: the list is well formed (which this checks).
    unsafe {
        let mut link: *mut *mut OtrlInsTag = &raw mut (*us).instag_root;
        while !(*link).is_null() {
            let t = *link;
            assert_eq!((*t).tous, link);
            out.push((*t).instag);
            link = &raw mut (*t).next;
        }
    }
    out
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("libotr-rs-lists-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cpath(p: &std::path::Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

#[test]
fn forget_first_fingerprint_after_lookup() {
    // SAFETY: the test's own user state, used as the C API documents.
    unsafe {
        let us = otrl_userstate_create();
        let ctx = find(us, c"bob", OTRL_INSTAG_MASTER, 1);
        assert!(!ctx.is_null());
        let mut a = [1u8; 20];
        let f1 = otrl_context_find_fingerprint(ctx, a.as_mut_ptr(), 1, null_mut());
        assert!(!f1.is_null());
        // a plain lookup of the same fingerprint
        assert_eq!(
            otrl_context_find_fingerprint(ctx, a.as_mut_ptr(), 0, null_mut()),
            f1
        );
        otrl_context_forget_fingerprint(f1, 0);
        assert!(fingerprints(ctx).is_empty());
        otrl_userstate_free(us);
    }
}

#[test]
fn free_with_fingerprints() {
    // SAFETY: as above.
    unsafe {
        let us = otrl_userstate_create();
        let ctx = find(us, c"bob", OTRL_INSTAG_MASTER, 1);
        let mut a = [1u8; 20];
        let mut b = [2u8; 20];
        let fa = otrl_context_find_fingerprint(ctx, a.as_mut_ptr(), 1, null_mut());
        let fb = otrl_context_find_fingerprint(ctx, b.as_mut_ptr(), 1, null_mut());
        // New fingerprints go to the head of the list.
        assert_eq!(fingerprints(ctx), vec![fb, fa]);
        otrl_userstate_free(us);
    }
}

#[test]
fn child_then_master() {
    // SAFETY: as above.
    unsafe {
        let us = otrl_userstate_create();
        let ctx = find(us, c"bob", 0x1234, 1);
        assert!(!ctx.is_null());
        // As in 4.1.1, a child made before any master finds itself when it
        // looks for its master.
        assert_eq!((*ctx).m_context, ctx);
        assert_eq!(contexts(us), vec![ctx]);
        assert_eq!(find(us, c"bob", OTRL_INSTAG_MASTER, 1), ctx);
        // A lower tag sorts in front, and is then found as the master.
        let other = find(us, c"bob", 0x199, 1);
        assert_eq!((*other).m_context, other);
        assert_eq!(contexts(us), vec![other, ctx]);
        otrl_userstate_free(us);
    }
}

#[test]
fn two_masters() {
    // SAFETY: as above.
    unsafe {
        let us = otrl_userstate_create();
        let carol = find(us, c"carol", OTRL_INSTAG_MASTER, 1);
        let bob = find(us, c"bob", OTRL_INSTAG_MASTER, 1);
        let dave = find(us, c"dave", OTRL_INSTAG_MASTER, 1);
        assert_eq!(contexts(us), vec![bob, carol, dave]);
        assert_eq!(find(us, c"carol", OTRL_INSTAG_MASTER, 0), carol);
        otrl_userstate_free(us);
    }
}

#[test]
fn child_fingerprint_forgotten_with_context() {
    // SAFETY: as above.
    unsafe {
        let us = otrl_userstate_create();
        let master = find(us, c"bob", OTRL_INSTAG_MASTER, 1);
        let child = find(us, c"bob", 0x1234, 1);
        assert_eq!((*child).m_context, master);
        let mut a = [7u8; 20];
        // A child's fingerprints live in its master's list.
        let f = otrl_context_find_fingerprint(child, a.as_mut_ptr(), 1, null_mut());
        assert!(!f.is_null());
        assert_eq!((*f).context, master);
        assert_eq!(fingerprints(master), vec![f]);
        assert_eq!(
            otrl_context_find_fingerprint(master, a.as_mut_ptr(), 0, null_mut()),
            f
        );
        (*child).active_fingerprint = f;
        // The master has no fingerprint left and is PLAINTEXT: it goes, and
        // its child with it.
        otrl_context_forget_fingerprint(f, 1);
        assert!(contexts(us).is_empty());
        otrl_userstate_free(us);
    }
}

#[test]
fn forget_fingerprint_keeps_context_with_others() {
    // SAFETY: as above.
    unsafe {
        let us = otrl_userstate_create();
        let ctx = find(us, c"bob", OTRL_INSTAG_MASTER, 1);
        let mut a = [1u8; 20];
        let mut b = [2u8; 20];
        let mut c = [3u8; 20];
        let fa = otrl_context_find_fingerprint(ctx, a.as_mut_ptr(), 1, null_mut());
        let fb = otrl_context_find_fingerprint(ctx, b.as_mut_ptr(), 1, null_mut());
        let fc = otrl_context_find_fingerprint(ctx, c.as_mut_ptr(), 1, null_mut());
        // Middle, then last, then first of the list.
        otrl_context_forget_fingerprint(fb, 1);
        assert_eq!(fingerprints(ctx), vec![fc, fa]);
        otrl_context_forget_fingerprint(fa, 1);
        assert_eq!(fingerprints(ctx), vec![fc]);
        assert_eq!(contexts(us), vec![ctx]);
        otrl_context_forget_fingerprint(fc, 1);
        assert!(contexts(us).is_empty());
        otrl_userstate_free(us);
    }
}

#[test]
fn set_trust() {
    // SAFETY: as above.
    unsafe {
        let us = otrl_userstate_create();
        let ctx = find(us, c"bob", OTRL_INSTAG_MASTER, 1);
        let mut a = [1u8; 20];
        let f = otrl_context_find_fingerprint(ctx, a.as_mut_ptr(), 1, null_mut());
        assert_eq!(otrl_context_is_fingerprint_trusted(f), 0);
        otrl_context_set_trust(f, c"verified".as_ptr());
        assert_eq!(otrl_context_is_fingerprint_trusted(f), 1);
        otrl_context_set_trust(f, c"".as_ptr());
        assert_eq!(otrl_context_is_fingerprint_trusted(f), 0);
        otrl_context_set_trust(f, c"smp".as_ptr());
        otrl_context_set_trust(f, core::ptr::null());
        assert_eq!(otrl_context_is_fingerprint_trusted(f), 0);
        otrl_context_set_trust(f, c"x".as_ptr());
        otrl_userstate_free(us);
    }
}

#[test]
fn forget_child_then_master_with_children() {
    // SAFETY: as above.
    unsafe {
        let us = otrl_userstate_create();
        let carol_master = find(us, c"carol", OTRL_INSTAG_MASTER, 1);
        let master = find(us, c"bob", OTRL_INSTAG_MASTER, 1);
        let c2 = find(us, c"bob", 0x5678, 1);
        let c1 = find(us, c"bob", 0x1234, 1);
        assert_eq!((*c1).m_context, master);
        assert_eq!((*c2).m_context, master);
        let carol = find(us, c"carol", 0x999, 1);
        assert_eq!((*carol).m_context, carol_master);
        assert_eq!(contexts(us), vec![master, c1, c2, carol_master, carol]);
        otrl_context_update_recent_child(c2, 1);
        otrl_context_update_recent_child(c1, 0);
        assert_eq!(find(us, c"bob", OTRL_INSTAG_RECENT_SENT, 0), c2);
        assert_eq!(find(us, c"bob", OTRL_INSTAG_RECENT_RECEIVED, 0), c1);
        assert_eq!(find(us, c"bob", OTRL_INSTAG_RECENT, 0), c1);
        let mut a = [1u8; 20];
        otrl_context_find_fingerprint(c2, a.as_mut_ptr(), 1, null_mut());
        // A child that is its master's recent child: the master falls back
        // to itself.
        assert_eq!(otrl_context_forget(c1), 0);
        assert_eq!((*master).recent_child, master);
        assert_eq!(contexts(us), vec![master, c2, carol_master, carol]);
        // A master takes its children with it.
        assert_eq!(otrl_context_forget(master), 0);
        assert_eq!(contexts(us), vec![carol_master, carol]);
        otrl_context_forget_all(us);
        assert!(contexts(us).is_empty());
        otrl_userstate_free(us);
    }
}

#[test]
fn forget_all_with_families() {
    // SAFETY: as above.
    unsafe {
        let us = otrl_userstate_create();
        for user in [c"bob", c"carol", c"alice"] {
            for instance in [OTRL_INSTAG_MASTER, 0x300, 0x100, 0x200] {
                let c = find(us, user, instance, 1);
                let mut fp = [(instance >> 8) as u8 ^ user.to_bytes()[0]; 20];
                otrl_context_find_fingerprint(c, fp.as_mut_ptr(), 1, null_mut());
            }
        }
        assert_eq!(contexts(us).len(), 12);
        let best = find(us, c"carol", OTRL_INSTAG_BEST, 0);
        assert!(!best.is_null());
        otrl_context_force_finished(best);
        otrl_context_forget_all(us);
        assert!(contexts(us).is_empty());
        otrl_userstate_free(us);
    }
}

static ADDED: AtomicUsize = AtomicUsize::new(0);
static FREED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn app_data_free(data: *mut c_void) {
    // SAFETY: the data is the Box made in add_app_data.
    unsafe { drop(Box::from_raw(data.cast::<u32>())) };
    FREED.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" fn add_app_data(data: *mut c_void, ctx: *mut ConnContext) {
    // SAFETY: ctx is the new context; `data` is the test's user state. The
    // callback re-enters the library, as applications do.
    unsafe {
        ADDED.fetch_add(1, Ordering::SeqCst);
        (*ctx).app_data = Box::into_raw(Box::new(7u32)).cast();
        (*ctx).app_data_free = Some(app_data_free);
        let us = data.cast::<s_OtrlUserState>();
        assert!(find(us, c"zed", OTRL_INSTAG_MASTER, 0).is_null());
        assert!(contexts(us).contains(&ctx));
    }
}

#[test]
fn app_data_callbacks() {
    // SAFETY: as above.
    unsafe {
        let us = otrl_userstate_create();
        let master = otrl_context_find(
            us,
            c"bob".as_ptr(),
            ALICE.as_ptr(),
            P.as_ptr(),
            OTRL_INSTAG_MASTER,
            1,
            null_mut(),
            Some(add_app_data),
            us.cast(),
        );
        let mut added = 0;
        let child = otrl_context_find(
            us,
            c"bob".as_ptr(),
            ALICE.as_ptr(),
            P.as_ptr(),
            0x4321,
            1,
            &mut added,
            Some(add_app_data),
            us.cast(),
        );
        assert_eq!(added, 1);
        assert_eq!(ADDED.load(Ordering::SeqCst), 2);
        assert_eq!((*child).m_context, master);
        assert_eq!(contexts(us), vec![master, child]);
        otrl_userstate_free(us);
        assert_eq!(FREED.load(Ordering::SeqCst), 2);
    }
}

#[test]
fn instance_tags() {
    let dir = scratch("instags");
    let file = dir.join("instags");
    std::fs::write(
        &file,
        "# comment\nalice\tp\t00001234\nbob\tp\t00005678\nalice\tq\t0000abcd\n",
    )
    .unwrap();
    let name = cpath(&file);
    // SAFETY: as above.
    unsafe {
        let us = otrl_userstate_create();
        assert_eq!(otrl_instag_read(us, name.as_ptr()), 0);
        assert_eq!(instags(us), vec![0xabcd, 0x5678, 0x1234]);
        // A new tag (no stream: nothing is written) goes to the head.
        assert_eq!(
            otrl_instag_generate_FILEp(us, null_mut(), c"carol".as_ptr(), P.as_ptr()),
            0
        );
        let carol = otrl_instag_find(us, c"carol".as_ptr(), P.as_ptr());
        assert_eq!((*us).instag_root, carol);
        assert_eq!(instags(us).len(), 4);
        // Middle, head, last.
        otrl_instag_forget(otrl_instag_find(us, c"bob".as_ptr(), P.as_ptr()));
        otrl_instag_forget(carol);
        otrl_instag_forget(otrl_instag_find(us, ALICE.as_ptr(), P.as_ptr()));
        assert_eq!(instags(us), vec![0xabcd]);
        // Contexts pick up our tag.
        assert_eq!(otrl_instag_read(us, name.as_ptr()), 0);
        let c = find(us, c"bob", OTRL_INSTAG_MASTER, 1);
        assert_eq!((*c).our_instance, 0x1234);
        assert_eq!(otrl_instag_write(us, name.as_ptr()), 0);
        otrl_instag_forget_all(us);
        assert!(instags(us).is_empty());
        otrl_userstate_free(us);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fingerprints_file() {
    let dir = scratch("fingerprints");
    let file = dir.join("fingerprints");
    let f1 = "0101010101010101010101010101010101010101";
    let f2 = "0202020202020202020202020202020202020202";
    let f3 = "0303030303030303030303030303030303030303";
    std::fs::write(
        &file,
        format!(
            "bob\talice\tp\t{f1}\tverified\nbob\talice\tp\t{f2}\t\ncarol\talice\tp\t{f3}\tsmp\n"
        ),
    )
    .unwrap();
    let name = cpath(&file);
    // SAFETY: as above.
    unsafe {
        let us = otrl_userstate_create();
        assert_eq!(
            otrl_privkey_read_fingerprints(us, name.as_ptr(), None, null_mut()),
            0
        );
        let bob = find(us, c"bob", OTRL_INSTAG_MASTER, 0);
        let carol = find(us, c"carol", OTRL_INSTAG_MASTER, 0);
        assert_eq!(contexts(us), vec![bob, carol]);
        assert_eq!(fingerprints(bob).len(), 2);
        assert_eq!(fingerprints(carol).len(), 1);
        assert_eq!(otrl_privkey_write_fingerprints(us, name.as_ptr()), 0);
        otrl_context_forget_fingerprint(fingerprints(carol)[0], 1);
        assert_eq!(contexts(us), vec![bob]);
        otrl_userstate_free(us);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pending_generations() {
    // SAFETY: as above.
    unsafe {
        let us = otrl_userstate_create();
        let mut k1 = null_mut();
        let mut k2 = null_mut();
        let mut k3 = null_mut();
        assert_eq!(
            otrl_privkey_generate_start(us, c"a".as_ptr(), P.as_ptr(), &mut k1),
            0
        );
        assert_eq!(
            otrl_privkey_generate_start(us, c"b".as_ptr(), P.as_ptr(), &mut k2),
            0
        );
        assert_eq!(
            otrl_privkey_generate_start(us, c"c".as_ptr(), P.as_ptr(), &mut k3),
            0
        );
        let mut again = null_mut();
        assert_ne!(
            otrl_privkey_generate_start(us, c"b".as_ptr(), P.as_ptr(), &mut again),
            0
        );
        assert!(again.is_null());
        // Middle, head, then the rest with the user state.
        otrl_privkey_generate_cancelled(us, k2);
        otrl_privkey_generate_cancelled(us, k3);
        assert!(!(*us).pending_root.is_null());
        assert_eq!((*(*us).pending_root).tous, &raw mut (*us).pending_root);
        otrl_privkey_pending_forget_all(us);
        assert!((*us).pending_root.is_null());
        otrl_privkey_generate_cancelled(us, k1);
        otrl_userstate_free(us);
    }
}
