//! Helpers shared by the exports: panics, C strings, libc memory and files.

use core::ffi::{c_char, c_void, CStr};
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use crate::gcry::{error_from_errno, gcry_error_t};

/// Runs `f`, turning a panic into `fail` so that no unwind reaches C.
pub fn guard<R>(fail: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fail)
}

/// The bytes of a NUL-terminated C string, or None for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub unsafe fn bytes<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        // SAFETY: non-NULL and NUL-terminated per the caller's contract.
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

/// A malloc'd copy of `data`, or NULL when malloc fails.
pub fn malloc_copy(data: &[u8]) -> *mut u8 {
    // SAFETY: malloc of at least one byte; the copy stays within the new block.
    unsafe {
        let p = libc::malloc(data.len().max(1)).cast::<u8>();
        if !p.is_null() {
            core::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len());
        }
        p
    }
}

/// A malloc'd NUL-terminated copy of `s` (like `strdup`), or NULL.
pub fn malloc_cstring(s: &[u8]) -> *mut c_char {
    // SAFETY: the block has room for s plus the terminator written at s.len().
    unsafe {
        let p = libc::malloc(s.len() + 1).cast::<u8>();
        if !p.is_null() {
            core::ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
            *p.add(s.len()) = 0;
        }
        p.cast()
    }
}

/// A zero-filled malloc'd `T` (C's `calloc(1, sizeof(T))`), or NULL.
pub fn calloc<T>() -> *mut T {
    // SAFETY: calloc returns NULL or a zeroed block of the requested size.
    unsafe { libc::calloc(1, core::mem::size_of::<T>()).cast() }
}

/// Frees a pointer from libc's allocator (NULL is fine).
///
/// # Safety
/// `p` is NULL or a live block from malloc/calloc/strdup.
pub unsafe fn free<T>(p: *mut T) {
    // SAFETY: per the caller's contract.
    unsafe { libc::free(p.cast::<c_void>()) }
}

/// `gcry_error_from_errno` for an I/O error.
pub fn io_error(e: &std::io::Error) -> gcry_error_t {
    error_from_errno(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Everything from the current position of a C stream to its end.
///
/// # Safety
/// `f` is a valid open `FILE*`.
pub unsafe fn read_stream(f: *mut libc::FILE) -> Result<Vec<u8>, gcry_error_t> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        // SAFETY: chunk is writable for its length; f is valid per the contract.
        let n = unsafe { libc::fread(chunk.as_mut_ptr().cast(), 1, chunk.len(), f) };
        out.extend_from_slice(&chunk[..n]);
        if n < chunk.len() {
            // SAFETY: f is valid.
            if unsafe { libc::ferror(f) } != 0 {
                return Err(error_from_errno(libc::EIO));
            }
            return Ok(out);
        }
    }
}

/// Writes all of `data` to a C stream and flushes it.
///
/// # Safety
/// `f` is a valid open `FILE*`.
pub unsafe fn write_stream(f: *mut libc::FILE, data: &[u8]) -> Result<(), gcry_error_t> {
    // SAFETY: data is readable for its length; f is valid per the contract.
    let n = unsafe { libc::fwrite(data.as_ptr().cast(), 1, data.len(), f) };
    // SAFETY: f is valid.
    if n != data.len() || unsafe { libc::fflush(f) } != 0 {
        return Err(error_from_errno(libc::EIO));
    }
    Ok(())
}

/// The path named by a C string.
pub fn path_of(name: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(name))
}

/// Reads a whole file named by path.
pub fn read_path(name: &[u8]) -> Result<Vec<u8>, gcry_error_t> {
    std::fs::read(path_of(name)).map_err(|e| io_error(&e))
}

/// Reads a line-oriented file named by path as libotr's `fopen` + `fgets`
/// loop sees it: a directory opens fine and reads as empty.
pub fn read_text_path(name: &[u8]) -> Result<Vec<u8>, gcry_error_t> {
    match std::fs::read(path_of(name)) {
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => Ok(Vec::new()),
        other => other.map_err(|e| io_error(&e)),
    }
}

/// Replaces the file at `name` with `data` without ever leaving it truncated.
///
/// A regular file (or a missing one) is replaced by writing a temporary file
/// beside it, syncing it and renaming it over the original, so a crash
/// mid-write leaves either the old or the new contents. Anything else (a
/// device such as /dev/null, a FIFO) is written in place, as libotr does.
/// `private` files are created with mode 0600, as libotr's umask(077) gives.
pub fn replace_path(name: &[u8], data: &[u8], private: bool) -> Result<(), gcry_error_t> {
    let path = path_of(name);
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    match std::fs::metadata(&target) {
        Ok(m) if !m.file_type().is_file() => {
            return write_in_place(&target, data).map_err(|e| io_error(&e));
        }
        _ => {}
    }
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let file_name = target.file_name().unwrap_or(OsStr::new("otr"));
    let mut tmp_name = b".".to_vec();
    tmp_name.extend_from_slice(file_name.as_bytes());
    tmp_name.extend_from_slice(format!(".tmp{}", std::process::id()).as_bytes());
    let tmp = dir.join(OsStr::from_bytes(&tmp_name));
    // An existing file keeps its mode; a new one gets 0600 for keys, or
    // what the umask leaves of 0666 as fopen would give.
    let mode = match std::fs::metadata(&target) {
        Ok(m) => Some(m.permissions().mode() & 0o7777),
        Err(_) if private => Some(0o600),
        Err(_) => None,
    };
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode.unwrap_or(0o666))
            .open(&tmp)?;
        f.write_all(data)?;
        if let Some(mode) = mode {
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, &target)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(&e));
    }
    Ok(())
}

fn write_in_place(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    f.write_all(data)
}
