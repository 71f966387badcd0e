//! The crate's log records, sent to a C callback (syslog, a journal, a file).

use crate::error::{Error, c_text, guard};
use std::ffi::{c_char, c_int, c_void};
use std::sync::RwLock;

/// Logging off.
pub const DEVICECODE_LOG_OFF: c_int = 0;
/// Errors (syslog `LOG_ERR`).
pub const DEVICECODE_LOG_ERROR: c_int = 1;
/// Warnings (syslog `LOG_WARNING`).
pub const DEVICECODE_LOG_WARN: c_int = 2;
/// Information, such as the code's message (syslog `LOG_INFO`).
pub const DEVICECODE_LOG_INFO: c_int = 3;
/// Debugging detail: requests, polls, cache decisions (syslog `LOG_DEBUG`).
pub const DEVICECODE_LOG_DEBUG: c_int = 4;
/// Everything.
pub const DEVICECODE_LOG_TRACE: c_int = 5;

/// Receives a log record: its level (one of the
/// `DEVICECODE_LOG_*` values), the module it comes from, and the message.
/// The records never contain a token or a device code. The strings are
/// valid only during the call. Called on the thread that made the call
/// being logged, possibly on several threads at once.
pub type LogFn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: c_int,
        target: *const c_char,
        message: *const c_char,
    ),
>;

#[derive(Clone, Copy)]
struct Sink {
    callback: LogFn,
    user_data: *mut c_void,
}

// SAFETY: the header documents that the callback may run on any thread that
// calls the library, with `user_data`; this crate never dereferences it.
unsafe impl Send for Sink {}
// SAFETY: as above; shared use only calls the callback.
unsafe impl Sync for Sink {}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

struct CLog;

static LOGGER: CLog = CLog;

impl log::Log for CLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("devicecode")
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let sink = match SINK.read() {
            Ok(sink) => *sink,
            Err(poisoned) => *poisoned.into_inner(),
        };
        let Some(Sink {
            callback: Some(callback),
            user_data,
        }) = sink
        else {
            return;
        };
        let level = match record.level() {
            log::Level::Error => DEVICECODE_LOG_ERROR,
            log::Level::Warn => DEVICECODE_LOG_WARN,
            log::Level::Info => DEVICECODE_LOG_INFO,
            log::Level::Debug => DEVICECODE_LOG_DEBUG,
            log::Level::Trace => DEVICECODE_LOG_TRACE,
        };
        let target = c_text(record.target());
        let message = c_text(record.args().to_string());
        // SAFETY: the function pointer and user data the C caller
        // registered, with strings that live until it returns.
        unsafe { callback(user_data, level, target.as_ptr(), message.as_ptr()) };
    }

    fn flush(&self) {}
}

/// Sends the library's log records up to `max_level` (a `DEVICECODE_LOG_*`
/// value) to `callback` with `user_data`; NULL or `DEVICECODE_LOG_OFF`
/// stops logging. May be called again to change the callback or level, but
/// not from inside the callback.
///
/// The library uses Rust's `log` crate: when the program also contains Rust
/// code that installed another logger, this fails with
/// `DEVICECODE_CONFIGURATION`.
///
/// # Safety
/// `callback`, when not NULL, is a function with the documented signature,
/// callable with `user_data` from any thread until logging is stopped;
/// `error_out` is NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_set_logger(
    callback: LogFn,
    user_data: *mut c_void,
    max_level: c_int,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: `error_out` is as the caller promises.
    unsafe {
        guard(error_out, || {
            let filter = match max_level {
                DEVICECODE_LOG_OFF => log::LevelFilter::Off,
                DEVICECODE_LOG_ERROR => log::LevelFilter::Error,
                DEVICECODE_LOG_WARN => log::LevelFilter::Warn,
                DEVICECODE_LOG_INFO => log::LevelFilter::Info,
                DEVICECODE_LOG_DEBUG => log::LevelFilter::Debug,
                DEVICECODE_LOG_TRACE => log::LevelFilter::Trace,
                other => {
                    return Err(Error::invalid(format!(
                        "the log level {other} is unknown: give DEVICECODE_LOG_OFF (0) to DEVICECODE_LOG_TRACE (5)"
                    )));
                }
            };
            let filter = if callback.is_some() {
                filter
            } else {
                log::LevelFilter::Off
            };
            // The first call installs the forwarding logger for good; later
            // calls only change where it forwards to.
            let ours = std::ptr::addr_eq(log::logger(), &LOGGER as &dyn log::Log);
            if !ours && log::set_logger(&LOGGER).is_err() {
                return Err(Error::invalid(
                    "another Rust logger is already installed in this program: records go to it",
                ));
            }
            let sink = Sink {
                callback,
                user_data,
            };
            match SINK.write() {
                Ok(mut slot) => *slot = Some(sink),
                Err(poisoned) => *poisoned.into_inner() = Some(sink),
            }
            log::set_max_level(filter);
            Ok(())
        })
    }
}
