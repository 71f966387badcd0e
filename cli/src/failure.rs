//! How a failure ends the command: its exit code and its one message, in
//! the words of the command line (flags and commands, not library calls).

use crate::output::escape;
use devicecode::{Error, ErrorKind};
use std::error::Error as _;

/// The documented exit codes.
pub mod code {
    pub const USAGE: u8 = 2;
    pub const INTERACTION_REQUIRED: u8 = 3;
    pub const DECLINED: u8 = 4;
    pub const EXPIRED: u8 = 5;
    pub const CANCELLED: u8 = 6;
    pub const NETWORK: u8 = 7;
    pub const SERVICE: u8 = 8;
    pub const CACHE: u8 = 9;
}

/// Why the command stops.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(code::USAGE, message)
    }

    /// A library error, with its causes and what to do from the command line.
    pub fn from_error(error: &Error) -> Self {
        let mut message = error.to_string();
        append_causes(&mut message, error);
        if let Some(advice) = advice(error.kind()) {
            message.push_str(advice);
        }
        Failure::new(exit_code(error.kind()), message)
    }
}

/// The library keeps the cause (`connection refused`) out of its message and
/// in `source()`; a person needs both. A cause the message already quotes
/// is not repeated.
fn append_causes(message: &mut String, error: &Error) {
    let mut cause = error.source();
    while let Some(current) = cause {
        let text = escape(&current.to_string());
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = current.source();
    }
}

/// The command-line step the library's advice stands for, where its words
/// are those of a library user ("sign in with the device code").
fn advice(kind: ErrorKind) -> Option<&'static str> {
    match kind {
        ErrorKind::InteractionRequired => {
            Some(" (run `devicecode login` with the same --client-id, server and --cache)")
        }
        _ => None,
    }
}

pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Configuration => code::USAGE,
        ErrorKind::InteractionRequired => code::INTERACTION_REQUIRED,
        ErrorKind::Declined => code::DECLINED,
        ErrorKind::Expired | ErrorKind::TimedOut => code::EXPIRED,
        ErrorKind::Cancelled => code::CANCELLED,
        ErrorKind::Transport => code::NETWORK,
        ErrorKind::Cache => code::CACHE,
        _ => code::SERVICE,
    }
}
