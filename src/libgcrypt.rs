//! The process's own libgcrypt, when it has one, found at run time.
//!
//! libotr-rs does not link libgcrypt, but applications that do expect two
//! things of libotr 4.1.1: that `otrl_init` initialises libgcrypt, and that
//! `OtrlPrivKey->privkey` is a genuine `gcry_sexp_t` they can print with
//! `gcry_sexp_sprint` (Psi's OTR plugin saves keys that way). Both need the
//! very libgcrypt the application uses, so it is looked up among the objects
//! already loaded (`RTLD_NOLOAD`: nothing is ever loaded on our account).
//! Looking it up by name rather than through the global scope also finds a
//! libgcrypt that came in as a dependency of a plugin loaded `RTLD_LOCAL`.

use core::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;

use otr_core::store::sexp::Sexp;

use crate::gcry::gcry_sexp_t;

/// libgcrypt's soname since 1.6.
const SONAME: &core::ffi::CStr = c"libgcrypt.so.20";

type CheckVersion = unsafe extern "C" fn(*const c_char) -> *const c_char;
type SexpSscan = unsafe extern "C" fn(*mut gcry_sexp_t, *mut usize, *const c_char, usize) -> u32;
type SexpSprint = unsafe extern "C" fn(gcry_sexp_t, c_int, *mut c_void, usize) -> usize;
type SexpRelease = unsafe extern "C" fn(gcry_sexp_t);

/// The few libgcrypt functions used.
pub struct Gcrypt {
    check_version: CheckVersion,
    sexp_sscan: SexpSscan,
    sexp_sprint: SexpSprint,
    sexp_release: SexpRelease,
}

/// Set once libgcrypt has been found; the handle stays open, so the library
/// stays loaded for as long as we may hold its objects.
static FOUND: OnceLock<Gcrypt> = OnceLock::new();

/// libgcrypt, when the process has loaded it.
pub fn get() -> Option<&'static Gcrypt> {
    if let Some(g) = FOUND.get() {
        return Some(g);
    }
    let found = lookup()?;
    Some(FOUND.get_or_init(|| found))
}

fn lookup() -> Option<Gcrypt> {
    // SAFETY: dlopen with RTLD_NOLOAD only returns a handle to an object that
    // is already loaded; the name is NUL-terminated.
    let handle = unsafe { libc::dlopen(SONAME.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
    if handle.is_null() {
        return None;
    }
    let sym = |name: &core::ffi::CStr| {
        // SAFETY: handle is a live dlopen handle; name is NUL-terminated.
        let f = unsafe { libc::dlsym(handle, name.as_ptr()) };
        (!f.is_null()).then_some(f)
    };
    let (c, sc, sp, r) = (
        sym(c"gcry_check_version")?,
        sym(c"gcry_sexp_sscan")?,
        sym(c"gcry_sexp_sprint")?,
        sym(c"gcry_sexp_release")?,
    );
    // SAFETY: each address is libgcrypt's function of that name, whose C
    // prototype (gcrypt.h) is the matching type.
    unsafe {
        Some(Gcrypt {
            check_version: core::mem::transmute::<*mut c_void, CheckVersion>(c),
            sexp_sscan: core::mem::transmute::<*mut c_void, SexpSscan>(sc),
            sexp_sprint: core::mem::transmute::<*mut c_void, SexpSprint>(sp),
            sexp_release: core::mem::transmute::<*mut c_void, SexpRelease>(r),
        })
    }
}

impl Gcrypt {
    /// `gcry_check_version(NULL)`: libgcrypt's initialisation, as libotr's
    /// `otrl_init` runs it.
    pub fn initialise(&self) {
        // SAFETY: NULL asks for no version check and only initialises.
        unsafe { (self.check_version)(core::ptr::null()) };
    }

    /// A new libgcrypt S-expression holding `e`; NULL if libgcrypt refuses.
    pub fn sexp_new(&self, e: &Sexp) -> gcry_sexp_t {
        let canonical = e.to_canonical();
        let mut out: gcry_sexp_t = core::ptr::null_mut();
        // SAFETY: the buffer and its length describe one canonical
        // expression; out is a writable slot; erroff may be NULL.
        let err = unsafe {
            (self.sexp_sscan)(
                &mut out,
                core::ptr::null_mut(),
                canonical.as_ptr().cast(),
                canonical.len(),
            )
        };
        if err != 0 {
            return core::ptr::null_mut();
        }
        out
    }

    /// `gcry_sexp_release`.
    ///
    /// # Safety
    /// `s` is NULL or an S-expression of this libgcrypt, not used afterwards.
    pub unsafe fn sexp_release(&self, s: gcry_sexp_t) {
        // SAFETY: per the contract; libgcrypt accepts NULL.
        unsafe { (self.sexp_release)(s) }
    }

    /// `s` printed in canonical form; None when it prints nothing.
    ///
    /// # Safety
    /// `s` is a live S-expression of this libgcrypt.
    pub unsafe fn sexp_canonical(&self, s: gcry_sexp_t) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        const GCRYSEXP_FMT_CANON: c_int = 1;
        // SAFETY: s is live per the contract; a NULL buffer asks for the
        // length, and the second call fills a buffer of that size.
        unsafe {
            let n = (self.sexp_sprint)(s, GCRYSEXP_FMT_CANON, core::ptr::null_mut(), 0);
            if n == 0 {
                return None;
            }
            let mut buf = zeroize::Zeroizing::new(vec![0u8; n]);
            let written = (self.sexp_sprint)(s, GCRYSEXP_FMT_CANON, buf.as_mut_ptr().cast(), n);
            buf.truncate(written);
            Some(buf)
        }
    }
}
