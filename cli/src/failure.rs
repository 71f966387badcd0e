//! How a failure ends the command: its exit code and its one message, in
//! the words of the command line (flags and commands, not library calls).

use devicecode::{Error, ErrorKind};

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
    /// `token` printed a valid token, but the token file could not take it.
    pub const NOT_SAVED: u8 = 10;
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

    /// A library error, with its cause and what to do from the command line.
    pub fn from_error(error: &Error) -> Self {
        // The message, then each cause once (`{:#}`: "...: Connection refused").
        let mut message = in_cli_words(&format!("{error:#}"));
        if let Some(advice) = advice(error.kind()) {
            message.push_str(advice);
        }
        Failure::new(exit_code(error.kind()), message)
    }
}

/// The library's advice is written for programs, and sometimes names its
/// own API. The situations the CLI can see coming are handled before the
/// call (several accounts, no default token file); this is the backstop for
/// the rest, such as the advice after a TLS failure.
fn in_cli_words(message: &str) -> String {
    const API_TO_CLI: [(&str, &str); 3] = [
        ("root_certificates_pem", "--ca-file"),
        (
            "choose one from accounts() and pass it",
            "say which with --account USERNAME",
        ),
        (
            "give a path to FileCache::new",
            "give --cache FILE or set DEVICECODE_CACHE",
        ),
    ];
    let mut text = message.to_string();
    for (api, cli) in API_TO_CLI {
        text = text.replace(api, cli);
    }
    text
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names_become_flags() {
        assert_eq!(
            in_cli_words("add its CA with root_certificates_pem"),
            "add its CA with --ca-file"
        );
    }
}
