//! Status codes, the thread-local last error, and the one guard every entry point runs its
//! body in (panics are caught there and never cross the boundary).

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The result of every fallible rtio call. On anything but `RTIO_STATUS_OK`,
/// `rtio_last_error()` describes what went wrong on the calling thread.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum rtio_status {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullPointer = 1,
    /// An argument is out of range or malformed (the message says which).
    InvalidArgument = 2,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 3,
    /// A JSON argument is not valid JSON, or not of the required shape.
    InvalidJson = 4,
    /// The server is stopped; nothing was done.
    Stopped = 5,
    /// No connected socket has this id (it may have disconnected meanwhile).
    UnknownSocket = 6,
    /// No namespace of this name is accepted by the server.
    UnknownNamespace = 7,
    /// No connect request with this id is pending (answered already, or timed out), or no
    /// WebSocket with this id is open (`rtio_open_websocket`: refused, or closed by either side).
    UnknownRequest = 8,
    /// The server could not listen on the configured address (in use, invalid...).
    Bind = 9,
    /// An I/O error: the operating system's, or Redis' for an emitter (unreachable, or it
    /// refused the message).
    Io = 10,
    /// The call does not fit the server's delivery mode (poll vs callback).
    WrongMode = 11,
    /// The JSON pointer matched nothing, or the value is not of the requested type.
    NotFound = 12,
    /// An internal error (a bug in rtio); the message says where.
    Internal = 13,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// A failed call: its status and message.
pub(crate) struct Failure {
    pub(crate) status: rtio_status,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: rtio_status, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }
}

impl From<rtio_core::Error> for Failure {
    fn from(e: rtio_core::Error) -> Failure {
        use rtio_core::Error as E;
        let status = match &e {
            E::Stopped => rtio_status::Stopped,
            E::Bind(_) => rtio_status::Bind,
            E::Io(_) => rtio_status::Io,
            E::InvalidArgument(_) => rtio_status::InvalidArgument,
            E::UnknownSocket(_) => rtio_status::UnknownSocket,
            E::UnknownNamespace(_) => rtio_status::UnknownNamespace,
            E::UnknownRequest(_) => rtio_status::UnknownRequest,
        };
        Failure::new(status, e.to_string())
    }
}

pub(crate) type FfiResult<T> = Result<T, Failure>;

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    let detail = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    format!("internal error in rtio (please report): {detail}")
}

/// Runs an entry point's body: catches panics, records the error message, and turns the
/// outcome into a status code.
pub(crate) fn guard(body: impl FnOnce() -> FfiResult<()>) -> rtio_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => rtio_status::Ok,
        Ok(Err(f)) => {
            set_last_error(&f.message);
            f.status
        }
        Err(p) => {
            set_last_error(&panic_message(&*p));
            rtio_status::Internal
        }
    }
}

/// Like [`guard`] for entry points that return a pointer: NULL on failure.
pub(crate) fn guard_ptr<T>(body: impl FnOnce() -> FfiResult<*mut T>) -> *mut T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(p)) => p,
        Ok(Err(f)) => {
            set_last_error(&f.message);
            std::ptr::null_mut()
        }
        Err(p) => {
            set_last_error(&panic_message(&*p));
            std::ptr::null_mut()
        }
    }
}

/// Like [`guard`] for accessors that return a plain value: `fallback` on failure or panic.
pub(crate) fn guard_value<T: Copy>(fallback: T, body: impl FnOnce() -> Option<T>) -> T {
    catch_unwind(AssertUnwindSafe(body))
        .ok()
        .flatten()
        .unwrap_or(fallback)
}

/// A borrowed, required C string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn arg_str<'a>(p: *const c_char, what: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(Failure::new(
            rtio_status::NullPointer,
            format!("{what} is NULL"),
        ));
    }
    CStr::from_ptr(p).to_str().map_err(|_| {
        Failure::new(
            rtio_status::InvalidUtf8,
            format!("{what} is not valid UTF-8"),
        )
    })
}

/// A borrowed, optional C string argument (NULL means absent).
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn opt_str<'a>(p: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        arg_str(p, what).map(Some)
    }
}

/// A required out-pointer.
pub(crate) fn out_ptr<'a, T>(p: *mut T, what: &str) -> FfiResult<&'a mut T> {
    // SAFETY: a non-NULL out-pointer is documented to point to writable storage.
    unsafe { p.as_mut() }
        .ok_or_else(|| Failure::new(rtio_status::NullPointer, format!("{what} is NULL")))
}

/// The message of the last failed rtio call on the calling thread ("" when none).
///
/// The string is owned by rtio and stays valid until the next rtio call on this thread;
/// copy it if you need it longer. Never free it.
#[no_mangle]
pub extern "C" fn rtio_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Copies the last error message of the calling thread into `buf` (at most `cap` bytes,
/// always NUL-terminated when `cap > 0`). Returns the full message length without the NUL,
/// so a result `>= cap` means the copy was truncated.
///
/// # Safety
/// `buf` is NULL (then nothing is copied) or points to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn rtio_last_error_copy(buf: *mut c_char, cap: usize) -> usize {
    LAST_ERROR.with(|e| {
        let msg = e.borrow();
        let bytes = msg.as_bytes();
        if !buf.is_null() && cap > 0 {
            let n = bytes.len().min(cap - 1);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf as *mut u8, n);
            *buf.add(n) = 0;
        }
        bytes.len()
    })
}

/// A static, human-readable name for a status code (e.g. `"RTIO_STATUS_STOPPED"`), or
/// `"RTIO_STATUS_UNKNOWN"` for a value that is no status. Never free it.
#[no_mangle]
pub extern "C" fn rtio_status_name(status: i32) -> *const c_char {
    const NAMES: [&CStr; 14] = [
        c"RTIO_STATUS_OK",
        c"RTIO_STATUS_NULL_POINTER",
        c"RTIO_STATUS_INVALID_ARGUMENT",
        c"RTIO_STATUS_INVALID_UTF8",
        c"RTIO_STATUS_INVALID_JSON",
        c"RTIO_STATUS_STOPPED",
        c"RTIO_STATUS_UNKNOWN_SOCKET",
        c"RTIO_STATUS_UNKNOWN_NAMESPACE",
        c"RTIO_STATUS_UNKNOWN_REQUEST",
        c"RTIO_STATUS_BIND",
        c"RTIO_STATUS_IO",
        c"RTIO_STATUS_WRONG_MODE",
        c"RTIO_STATUS_NOT_FOUND",
        c"RTIO_STATUS_INTERNAL",
    ];
    usize::try_from(status)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or(c"RTIO_STATUS_UNKNOWN")
        .as_ptr()
}
