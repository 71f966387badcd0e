//! The table of commands and options: the parser and the help text both read
//! it, so an option cannot be accepted without being documented.

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Login,
    Token,
    Accounts,
    Logout,
    Headers,
}

impl Command {
    pub const ALL: [Command; 5] = [
        Command::Login,
        Command::Token,
        Command::Accounts,
        Command::Logout,
        Command::Headers,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Command::Login => "login",
            Command::Token => "token",
            Command::Accounts => "accounts",
            Command::Logout => "logout",
            Command::Headers => "headers",
        }
    }

    pub fn named(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Which option a spec is, for the parser to store and find values by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    ClientId,
    Tenant,
    Authority,
    Issuer,
    DeviceEndpoint,
    TokenEndpoint,
    Scope,
    CaFile,
    Timeout,
    Cache,
    Account,
    ForceRefresh,
    ClaimsChallenge,
    ClientCapability,
    Dpop,
    Method,
    Url,
    Qr,
    NoQr,
    Verbose,
    Help,
}

/// One option of the command line.
pub struct Spec {
    pub key: Key,
    pub long: &'static str,
    pub short: Option<&'static str>,
    /// The placeholder of its value in the help; `None` for a switch.
    pub value: Option<&'static str>,
    /// The environment variable that gives it when the flag is absent.
    pub env: Option<&'static str>,
    /// The commands that take it.
    pub commands: &'static [Command],
    pub about: &'static str,
}

use Command::{Headers, Login, Logout, Token};

const ALL: &[Command] = &Command::ALL;
const NETWORK: &[Command] = &[Login, Token, Headers];

/// The options that choose the server: exactly one of them (or the two
/// endpoints together) is needed by every command that talks to it.
pub const AUTHORITY_KEYS: [Key; 5] = [
    Key::Tenant,
    Key::Authority,
    Key::Issuer,
    Key::DeviceEndpoint,
    Key::TokenEndpoint,
];

pub static SPECS: &[Spec] = &[
    Spec {
        key: Key::ClientId,
        long: "--client-id",
        short: None,
        value: Some("ID"),
        env: Some("DEVICECODE_CLIENT_ID"),
        commands: ALL,
        about: "the application (client) id of the app registration",
    },
    Spec {
        key: Key::Tenant,
        long: "--tenant",
        short: None,
        value: Some("TENANT"),
        env: Some("DEVICECODE_TENANT"),
        commands: ALL,
        about: "an Entra ID tenant: its GUID, a verified domain, organizations, common or consumers",
    },
    Spec {
        key: Key::Authority,
        long: "--authority",
        short: None,
        value: Some("URL"),
        env: Some("DEVICECODE_AUTHORITY"),
        commands: ALL,
        about: "an Entra ID authority, https://host/<tenant> (sovereign clouds)",
    },
    Spec {
        key: Key::Issuer,
        long: "--issuer",
        short: None,
        value: Some("URL"),
        env: Some("DEVICECODE_ISSUER"),
        commands: ALL,
        about: "any OAuth 2.0 server, its endpoints found by discovery",
    },
    Spec {
        key: Key::DeviceEndpoint,
        long: "--device-endpoint",
        short: None,
        value: Some("URL"),
        env: Some("DEVICECODE_DEVICE_ENDPOINT"),
        commands: ALL,
        about: "the device authorization endpoint, with --token-endpoint",
    },
    Spec {
        key: Key::TokenEndpoint,
        long: "--token-endpoint",
        short: None,
        value: Some("URL"),
        env: Some("DEVICECODE_TOKEN_ENDPOINT"),
        commands: ALL,
        about: "the token endpoint, with --device-endpoint",
    },
    Spec {
        key: Key::Scope,
        long: "--scope",
        short: None,
        value: Some("SCOPE"),
        env: Some("DEVICECODE_SCOPE"),
        commands: NETWORK,
        about: "a scope to ask for, e.g. User.Read; repeat it for more (the variable: separated by spaces)",
    },
    Spec {
        key: Key::CaFile,
        long: "--ca-file",
        short: None,
        value: Some("PEM"),
        env: Some("DEVICECODE_CA_FILE"),
        commands: ALL,
        about: "root certificates to trust besides the bundled ones (a PEM file of at most 1 MiB)",
    },
    Spec {
        key: Key::Timeout,
        long: "--timeout",
        short: None,
        value: Some("SECS"),
        env: Some("DEVICECODE_TIMEOUT"),
        commands: &[Login],
        about: "stop waiting for the sign-in after this many seconds (exit 5)",
    },
    Spec {
        key: Key::Cache,
        long: "--cache",
        short: None,
        value: Some("FILE"),
        env: Some("DEVICECODE_CACHE"),
        commands: ALL,
        about: "the token file (default: tokens.json in $STATE_DIRECTORY, $XDG_STATE_HOME/devicecode or ~/.local/state/devicecode)",
    },
    Spec {
        key: Key::Account,
        long: "--account",
        short: None,
        value: Some("USERNAME"),
        env: Some("DEVICECODE_ACCOUNT"),
        commands: &[Token, Logout, Headers],
        about: "the account, by username or home account id (needed when several are signed in)",
    },
    Spec {
        key: Key::ForceRefresh,
        long: "--force-refresh",
        short: None,
        value: None,
        env: None,
        commands: &[Token],
        about: "redeem the refresh token even when the cached access token is still good",
    },
    Spec {
        key: Key::ClaimsChallenge,
        long: "--claims-challenge",
        short: None,
        value: Some("B64"),
        env: None,
        commands: NETWORK,
        about: "a resource's claims challenge (the base64 `claims` of its WWW-Authenticate header, or its JSON): skip the cached token and ask for one with these claims",
    },
    Spec {
        key: Key::ClientCapability,
        long: "--client-capability",
        short: None,
        value: Some("CAP"),
        env: Some("DEVICECODE_CLIENT_CAPABILITY"),
        commands: NETWORK,
        about: "a client capability to declare, e.g. CP1 (claims challenges handled: Entra issues long-lived CAE tokens); repeat it for more (the variable: separated by spaces)",
    },
    Spec {
        key: Key::Dpop,
        long: "--dpop",
        short: None,
        value: Some("[KEYFILE]"),
        env: Some("DEVICECODE_DPOP"),
        commands: NETWORK,
        about: "bind the tokens to a DPoP key (RFC 9449; for servers that support it): its private key file, made on first use (mode 0600; default: the token file's name + .dpop-key.pem). Without it, token and headers use that default file if it exists",
    },
    Spec {
        key: Key::Method,
        long: "--method",
        short: None,
        value: Some("METHOD"),
        env: None,
        commands: &[Headers],
        about: "the HTTP method of the request to the resource (GET, POST, ...)",
    },
    Spec {
        key: Key::Url,
        long: "--url",
        short: None,
        value: Some("URL"),
        env: None,
        commands: &[Headers],
        about: "the URL of the request to the resource",
    },
    Spec {
        key: Key::Qr,
        long: "--qr",
        short: None,
        value: None,
        env: None,
        commands: &[Login],
        about: "also draw the sign-in address as a QR code when stdout is a terminal (the default)",
    },
    Spec {
        key: Key::NoQr,
        long: "--no-qr",
        short: None,
        value: None,
        env: None,
        commands: &[Login],
        about: "print the code and the address without the QR code",
    },
    Spec {
        key: Key::Verbose,
        long: "--verbose",
        short: Some("-v"),
        value: None,
        env: None,
        commands: ALL,
        about: "log what happens on stderr (never a secret)",
    },
    Spec {
        key: Key::Help,
        long: "--help",
        short: Some("-h"),
        value: None,
        env: None,
        commands: ALL,
        about: "show this help",
    },
];

/// The spec of an option (every key has exactly one).
pub fn spec(key: Key) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_its_own_row() {
        for (i, row) in SPECS.iter().enumerate() {
            let found = spec(row.key).unwrap();
            assert!(std::ptr::eq(found, row), "{} row {i}", row.long);
        }
    }
}
