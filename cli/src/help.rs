//! `--help` texts, made from the option table so that they cannot drift from
//! what the parser accepts.

use crate::options::{Command, SPECS};
use std::fmt::Write as _;

const ABOUT: &str = "Sign a headless device in with the OAuth 2.0 device code flow (RFC 8628),\nMicrosoft Entra ID or any OAuth 2.0 server, and print its access token later.";

/// The exit codes, and the commands that can end with each.
const EXIT_CODES: &[(u8, &str, &[Command])] = {
    use Command::{Accounts, Headers, Login, Logout, Token};
    const ALL: &[Command] = &Command::ALL;
    &[
        (0, "success", ALL),
        (2, "usage or configuration error", ALL),
        (
            3,
            "interaction required: no usable sign-in, run `devicecode login`",
            &[Token, Logout, Headers],
        ),
        (4, "the person declined the sign-in", &[Login]),
        (5, "the code expired, or --timeout was reached", &[Login]),
        (6, "cancelled (Ctrl-C or SIGTERM)", &[Login]),
        (
            7,
            "network error: the server could not be reached",
            &[Login, Token, Headers],
        ),
        (
            8,
            "the server refused, or sent an unusable answer or token",
            &[Login, Token, Headers],
        ),
        (
            9,
            "the token file could not be read, locked or written",
            &[Login, Token, Accounts, Logout, Headers],
        ),
        (
            10,
            "the token was printed, but the token file could not be written: fix the cause
      before the next refresh, or the sign-in may be lost",
            &[Token],
        ),
    ]
};

fn summary(command: Command) -> (&'static str, &'static str) {
    match command {
        Command::Login => (
            "--client-id ID <server> [--scope SCOPE]... [options]",
            "Shows a code and an address on stdout, waits until someone signs in with them on\nanother device, and saves the tokens in the token file. Prints `signed in as <username>`\non stderr; never prints a token.",
        ),
        Command::Token => (
            "--client-id ID <server> [--scope SCOPE]... [--account USERNAME] [options]",
            "Prints the access token (only it, and a newline) on stdout: the cached one, or one\ngot by redeeming the cached refresh token. Never starts a sign-in. A token that is\nnot a valid bearer token (RFC 6750) is never printed (exit 8). A DPoP-bound token\n(login --dpop) needs a proof with each request: use `headers` for those.",
        ),
        Command::Accounts => (
            "[--client-id ID <server>] [--cache FILE]",
            "Lists the signed-in accounts, one a line: username, a tab, home account id.\nWith --client-id, only the accounts of that application; without, every account in\nthe token file.",
        ),
        Command::Headers => (
            "--client-id ID <server> --method METHOD --url URL [options]",
            "Prints the headers of a request to a resource with the access token, one a line:\n`Authorization: DPoP <token>` and `DPoP: <proof>` (for that method and URL, good once)\nfor a DPoP-bound token, `Authorization: Bearer <token>` alone otherwise. For\n`curl -H @<(devicecode headers --method GET --url URL) URL`. Never starts a sign-in.",
        ),
        Command::Logout => (
            "[--client-id ID <server>] [--account USERNAME] [--cache FILE]",
            "Removes an account's tokens from the token file: with --client-id, that\napplication's; without, those of every application. --account is needed when\nseveral accounts are signed in.",
        ),
    }
}

/// The help of one command, or the overview.
pub fn text(command: Option<Command>) -> String {
    match command {
        Some(command) => command_help(command),
        None => overview(),
    }
}

pub fn version() -> String {
    format!("devicecode {}", env!("CARGO_PKG_VERSION"))
}

fn overview() -> String {
    let mut text = format!("{ABOUT}\n\nUsage: devicecode <command> [options]\n\nCommands:\n");
    text.push_str(
        "  login           show a code, wait for someone to sign in with it, save the tokens\n\
         \x20 token           print the access token, from the token file or by a silent refresh\n\
         \x20 accounts        list the accounts in the token file\n\
         \x20 logout          remove an account's tokens from the token file\n\
         \x20 headers         print the Authorization (and DPoP) headers for a request\n\
         \x20 help [COMMAND]  this text, or a command's (also --help, -h, COMMAND --help)\n\
         \x20 --version, -V   print the version\n\n\
         Each command's options: devicecode COMMAND --help\n",
    );
    let _ = write!(text, "\n{}", environment(None));
    let _ = write!(text, "\n{}", exit_codes(None));
    text
}

fn command_help(command: Command) -> String {
    let (usage, about) = summary(command);
    let mut text = format!(
        "Usage: devicecode {} {usage}\n\n{about}\n\nOptions:\n",
        command.name()
    );
    for spec in SPECS.iter().filter(|s| s.commands.contains(&command)) {
        let mut flag = String::from(spec.long);
        if let Some(short) = spec.short {
            flag = format!("{short}, {flag}");
        }
        if let Some(value) = spec.value {
            flag = format!("{flag} {value}");
        }
        let _ = writeln!(text, "  {flag:<24} {}", spec.about);
    }
    text.push_str(
        "\n<server> is one of --tenant, --authority, --issuer, or --device-endpoint with\n--token-endpoint.\n",
    );
    let _ = write!(text, "\n{}", environment(Some(command)));
    let _ = write!(text, "\n{}", exit_codes(Some(command)));
    text
}

fn environment(command: Option<Command>) -> String {
    let mut text = String::from(
        "Environment (for systemd's Environment=; a flag on the command line wins over its\nvariable, any server flag over all server variables, and an empty variable counts\nas unset):\n",
    );
    let wanted = SPECS
        .iter()
        .filter(|s| command.is_none_or(|c| s.commands.contains(&c)));
    for spec in wanted {
        if let Some(name) = spec.env {
            let _ = writeln!(text, "  {name:<27} {}", spec.long);
        }
    }
    if command.is_none_or(|c| [Command::Login, Command::Token, Command::Headers].contains(&c)) {
        text.push_str("  (DEVICECODE_SCOPE holds the scopes separated by spaces)\n");
    }
    text.push_str("  STATE_DIRECTORY, XDG_STATE_HOME, HOME  where the token file is by default\n");
    text.push_str(
        "  HTTPS_PROXY, ALL_PROXY, NO_PROXY        the proxy to reach the server through\n",
    );
    text
}

fn exit_codes(command: Option<Command>) -> String {
    let mut text = String::from("Exit codes:\n");
    for (code, meaning, commands) in EXIT_CODES {
        if command.is_none_or(|c| commands.contains(&c)) {
            let _ = writeln!(text, "  {code}  {meaning}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_and_variable_is_documented_for_its_commands() {
        for command in Command::ALL {
            let help = text(Some(command));
            for spec in SPECS.iter().filter(|s| s.commands.contains(&command)) {
                assert!(help.contains(spec.long), "{} {}", command.name(), spec.long);
                if let Some(name) = spec.env {
                    assert!(help.contains(name), "{} {name}", command.name());
                }
            }
        }
        let overview = text(None);
        for code in 2..=10 {
            assert!(overview.contains(&format!("  {code}  ")), "{code}");
        }
    }
}
