//! `devicecode`: sign a headless device in from the command line, and get
//! its tokens later without anyone present.
//!
//! ```text
//! devicecode login    --client-id ID <server> [--scope S]... [--ca-file PEM] [--timeout SECS] [--cache FILE]
//! devicecode token    --client-id ID <server> [--scope S]... [--ca-file PEM] [--cache FILE]
//!                     [--account USERNAME] [--force-refresh] [--claims-challenge B64]
//!                     [--client-capability CAP]...
//! devicecode accounts [--client-id ID <server>] [--cache FILE]
//! devicecode logout   [--client-id ID <server>] [--cache FILE] [--account USERNAME]
//! devicecode help [COMMAND] | --help | --version
//!
//! <server>: --tenant T | --authority URL | --issuer URL | --device-endpoint URL --token-endpoint URL
//! ```
//!
//! Every option with a value can also come from a `DEVICECODE_` variable
//! (see `devicecode --help`); the command line wins. The exit codes are in
//! `failure::code` and in the help.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod bearer;
mod ca_file;
mod commands;
mod failure;
mod help;
mod options;
mod output;

use args::Request;
use failure::code;
use output::{err, out};
use std::process::ExitCode;

fn main() -> ExitCode {
    let request = args::parse(std::env::args_os().skip(1), |name: &str| {
        std::env::var_os(name)
    });
    let args = match request {
        Ok(Request::Run(args)) => args,
        Ok(Request::Help(command)) => return print(&help::text(command)),
        Ok(Request::Version) => return print(&help::version()),
        Err(problem) => {
            // One line: enough to see what was wrong, and where to read more.
            let more = match problem.command {
                Some(command) => format!("devicecode {} --help", command.name()),
                None => "devicecode --help".to_string(),
            };
            err(&format!("devicecode: {} (see `{more}`)", problem.message));
            return ExitCode::from(code::USAGE);
        }
    };
    if args.verbose {
        static LOGGER: output::StderrLog = output::StderrLog;
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    }
    match commands::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            err(&format!("devicecode: {}", failure.message));
            ExitCode::from(failure.code)
        }
    }
}

/// Help or version on stdout. A reader that stopped early (`| head`) had
/// what it wanted.
fn print(text: &str) -> ExitCode {
    match out(text.trim_end_matches('\n')) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            err(&format!("devicecode: could not write to stdout: {e}"));
            ExitCode::from(code::USAGE)
        }
    }
}
