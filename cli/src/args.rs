//! The hand-written parser: raw arguments (any bytes, as Linux allows) and
//! environment variables in, a checked [`Args`] or a usage error out.

use crate::options::{AUTHORITY_KEYS, Command, Key, SPECS, Spec, spec};
use crate::output::escape;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// What the command line asks for.
#[derive(Debug)]
pub enum Request {
    Run(Box<Args>),
    /// Usage of one command, or of all.
    Help(Option<Command>),
    Version,
}

/// A usage error: what was wrong, and the command whose help to point at.
#[derive(Debug)]
pub struct UsageError {
    pub message: String,
    pub command: Option<Command>,
}

/// Where to find the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Server {
    Tenant(String),
    Authority(String),
    Issuer(String),
    Endpoints { device: String, token: String },
}

/// A checked command line.
#[derive(Debug)]
pub struct Args {
    pub command: Command,
    pub client_id: Option<String>,
    pub server: Option<Server>,
    pub scopes: Vec<String>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Option<u64>,
    pub cache: Option<PathBuf>,
    pub account: Option<String>,
    pub force_refresh: bool,
    /// A claims challenge, base64 or JSON, as given (the library checks it).
    pub claims_challenge: Option<String>,
    pub capabilities: Vec<String>,
    /// `--dpop`: `Some(None)` for the key file beside the token file.
    pub dpop: Option<Option<PathBuf>>,
    /// `headers`: the request to the resource.
    pub method: Option<String>,
    pub url: Option<String>,
    /// Whether `login` draws a QR code (only ever on a terminal).
    pub qr: bool,
    pub verbose: bool,
}

/// Parses `argv` (without the program name), taking what the command line
/// leaves out from `env`.
pub fn parse(
    argv: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<OsString>,
) -> Result<Request, UsageError> {
    let mut argv = argv.into_iter();
    let Some(first) = argv.next() else {
        return Err(usage(None, "no command given".into()));
    };
    let command = match first.to_str() {
        Some("--help" | "-h") => return Ok(Request::Help(None)),
        Some("--version" | "-V") => return Ok(Request::Version),
        Some("help") => return help_for(argv.next()),
        Some(name) => Command::named(name),
        None => None,
    };
    let Some(command) = command else {
        return Err(usage(None, format!("unknown command '{}'", shown(&first))));
    };
    let fail = |message: String| usage(Some(command), message);
    // Help wins wherever it is, over any mistake around it: someone who
    // asks for it is probably unsure of the rest.
    let rest: Vec<OsString> = argv.collect();
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        return Ok(Request::Help(Some(command)));
    }
    let mut argv = rest.into_iter().peekable();
    let mut given: Vec<Given> = Vec::new();
    while let Some(arg) = argv.next() {
        let (flag, inline) = split_inline(&arg);
        let Some(spec) = find(flag).filter(|s| s.commands.contains(&command)) else {
            return Err(fail(match find(flag) {
                Some(spec) => format!("{} does not take {}", command.name(), spec.long),
                None => format!("unknown option '{}'", shown(&arg)),
            }));
        };
        let value = match (spec.value, inline) {
            (None, None) => OsString::new(),
            (None, Some(_)) => return Err(fail(format!("{} takes no value", spec.long))),
            (Some(_), Some(value)) => value,
            // `--dpop` alone means the default key file; a value is taken
            // only when it is not the next option.
            (Some(_), None) if optional_value(spec.key) => {
                match argv.next_if(|next| !next.as_bytes().starts_with(b"-")) {
                    Some(value) => value,
                    None => OsString::new(),
                }
            }
            (Some(_), None) => argv
                .next()
                .ok_or_else(|| fail(format!("{} needs a value", spec.long)))?,
        };
        if spec.value.is_some() && value.is_empty() && !optional_value(spec.key) {
            return Err(fail(format!("{} is empty: give a value", spec.long)));
        }
        // Only --scope and --client-capability add up; a second value for
        // anything else is more likely a mistake than an intended override.
        if !adds_up(spec.key) && spec.value.is_some() && given.iter().any(|g| g.key == spec.key) {
            return Err(fail(format!("{} is given twice", spec.long)));
        }
        given.push(Given {
            key: spec.key,
            value,
            from_env: false,
        });
    }
    fill_from_env(command, &mut given, &env).map_err(&fail)?;
    check(command, &given).map_err(fail)
}

/// One value, and where it came from, for messages to name.
struct Given {
    key: Key,
    value: OsString,
    from_env: bool,
}

impl Given {
    /// The flag or the variable that gave the value.
    fn source(&self) -> &'static str {
        spec(self.key).map_or("an option", |spec| match (self.from_env, spec.env) {
            (true, Some(name)) => name,
            _ => spec.long,
        })
    }

    /// Paths may be any bytes; every other value is text.
    fn text(&self) -> Result<String, String> {
        self.value
            .to_str()
            .map(str::to_string)
            .ok_or_else(|| format!("the value of {} is not valid UTF-8", self.source()))
    }
}

/// `help`, or `help <command>`.
fn help_for(topic: Option<OsString>) -> Result<Request, UsageError> {
    let Some(topic) = topic else {
        return Ok(Request::Help(None));
    };
    match topic.to_str().and_then(Command::named) {
        Some(command) => Ok(Request::Help(Some(command))),
        None => Err(usage(
            None,
            format!("no help for '{}': it is not a command", shown(&topic)),
        )),
    }
}

/// `--flag=value` into the flag and its value, which may be any bytes (a
/// path); a flag that is not UTF-8 is unknown anyway, and comes back empty.
fn split_inline(arg: &OsStr) -> (&str, Option<OsString>) {
    let bytes = arg.as_bytes();
    let (flag, value) = match bytes.iter().position(|b| *b == b'=') {
        Some(at) if bytes.starts_with(b"--") => (
            bytes.get(..at).unwrap_or_default(),
            bytes
                .get(at.saturating_add(1)..)
                .map(|v| OsStr::from_bytes(v).to_os_string()),
        ),
        _ => (bytes, None),
    };
    (std::str::from_utf8(flag).unwrap_or_default(), value)
}

fn find(flag: &str) -> Option<&'static Spec> {
    SPECS
        .iter()
        .find(|s| s.long == flag || s.short == Some(flag))
}

/// Environment variables give the options the command line did not. The
/// authority options are one choice: any of them on the command line
/// outranks all of their variables, so that `--tenant` works under a unit
/// that sets `DEVICECODE_ISSUER`. An empty variable counts as unset, as
/// systemd's `Environment=NAME=` means to clear it.
fn fill_from_env(
    command: Command,
    given: &mut Vec<Given>,
    env: &impl Fn(&str) -> Option<OsString>,
) -> Result<(), String> {
    let on_line = |key: Key, given: &[Given]| {
        given.iter().any(|g| {
            g.key == key || (AUTHORITY_KEYS.contains(&key) && AUTHORITY_KEYS.contains(&g.key))
        })
    };
    let mut found = Vec::new();
    for spec in SPECS.iter().filter(|s| s.commands.contains(&command)) {
        let Some(name) = spec.env else { continue };
        if on_line(spec.key, given) {
            continue;
        }
        let Some(value) = env(name).filter(|v| !v.is_empty()) else {
            continue;
        };
        if adds_up(spec.key) {
            let text = value
                .to_str()
                .ok_or_else(|| format!("{name} is not valid UTF-8"))?;
            found.extend(text.split(' ').filter(|s| !s.is_empty()).map(|s| Given {
                key: spec.key,
                value: s.into(),
                from_env: true,
            }));
        } else {
            found.push(Given {
                key: spec.key,
                value,
                from_env: true,
            });
        }
    }
    given.extend(found);
    Ok(())
}

/// Turns the raw values into [`Args`], checking each.
fn check(command: Command, given: &[Given]) -> Result<Request, String> {
    let raw = |key: Key| given.iter().find(|g| g.key == key);
    let text = |key: Key| raw(key).map(Given::text).transpose();
    let path = |key: Key| raw(key).map(|g| PathBuf::from(&g.value));
    let client_id = raw(Key::ClientId).map(client_id).transpose()?;
    let mut scopes = Vec::new();
    for scope in given.iter().filter(|g| g.key == Key::Scope) {
        scopes.push(checked_scope(scope)?);
    }
    let mut capabilities = Vec::new();
    for capability in given.iter().filter(|g| g.key == Key::ClientCapability) {
        capabilities.push(checked_scope(capability)?);
    }
    let timeout = raw(Key::Timeout).map(seconds).transpose()?;
    if raw(Key::Qr).is_some() && raw(Key::NoQr).is_some() {
        return Err("--qr and --no-qr contradict each other: give one".into());
    }
    let method = text(Key::Method)?;
    let url = text(Key::Url)?;
    if command == Command::Headers && (method.is_none() || url.is_none()) {
        return Err("headers needs --method and --url: the request to make the headers for".into());
    }
    let dpop =
        raw(Key::Dpop).map(|g| Some(PathBuf::from(&g.value)).filter(|p| !p.as_os_str().is_empty()));
    let server = server(
        text(Key::Tenant)?,
        text(Key::Authority)?,
        text(Key::Issuer)?,
        text(Key::DeviceEndpoint)?,
        text(Key::TokenEndpoint)?,
    )?;
    Ok(Request::Run(Box::new(Args {
        command,
        client_id,
        server,
        scopes,
        ca_file: path(Key::CaFile),
        timeout,
        cache: path(Key::Cache),
        account: text(Key::Account)?,
        force_refresh: raw(Key::ForceRefresh).is_some(),
        claims_challenge: text(Key::ClaimsChallenge)?,
        capabilities,
        dpop,
        method,
        url,
        qr: raw(Key::NoQr).is_none(),
        verbose: raw(Key::Verbose).is_some(),
    })))
}

/// Options whose value may be left out.
fn optional_value(key: Key) -> bool {
    key == Key::Dpop
}

/// Options whose values add up, given on the line or in their variable
/// (separated by spaces).
fn adds_up(key: Key) -> bool {
    matches!(key, Key::Scope | Key::ClientCapability)
}

fn client_id(given: &Given) -> Result<String, String> {
    let id = given.text()?;
    if id.trim().is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{} '{}' is empty or has spaces: give the application (client) id of the app registration",
            given.source(),
            escape(&id)
        ));
    }
    Ok(id)
}

/// RFC 6749's scope-token: printable ASCII but space, '"' and '\'. A space
/// would silently make two scopes of one, and a control character would be
/// sent to the server as it is.
fn checked_scope(given: &Given) -> Result<String, String> {
    let scope = given.text()?;
    let allowed = |c: char| matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    if scope.chars().all(allowed) {
        return Ok(scope);
    }
    let advice = match (given.from_env, scope.chars().any(char::is_whitespace)) {
        (false, true) => "give each scope with its own --scope",
        (true, true) => "separate the scopes in DEVICECODE_SCOPE with single spaces",
        _ => "a scope is printable ASCII without space, '\"' or '\\' (RFC 6749)",
    };
    Err(format!(
        "the scope '{}' from {} is not valid: {advice}",
        escape(&scope),
        given.source()
    ))
}

fn seconds(given: &Given) -> Result<u64, String> {
    let text = given.text()?;
    match text.parse::<u64>() {
        Ok(secs) if secs > 0 => Ok(secs),
        _ => Err(format!(
            "{} takes a whole number of seconds of at least 1, not '{}'",
            given.source(),
            escape(&text)
        )),
    }
}

fn server(
    tenant: Option<String>,
    authority: Option<String>,
    issuer: Option<String>,
    device: Option<String>,
    token: Option<String>,
) -> Result<Option<Server>, String> {
    let endpoints = device.is_some() || token.is_some();
    let chosen = [
        tenant.is_some(),
        authority.is_some(),
        issuer.is_some(),
        endpoints,
    ];
    if chosen.iter().filter(|c| **c).count() > 1 {
        return Err("give only one of --tenant, --authority, --issuer, or --device-endpoint with --token-endpoint".into());
    }
    Ok(match (tenant, authority, issuer, device, token) {
        (Some(tenant), ..) => Some(Server::Tenant(tenant)),
        (_, Some(url), ..) => Some(Server::Authority(url)),
        (_, _, Some(url), ..) => Some(Server::Issuer(url)),
        (_, _, _, Some(device), Some(token)) => Some(Server::Endpoints { device, token }),
        (_, _, _, None, None) => None,
        _ => return Err("--device-endpoint and --token-endpoint go together: give both".into()),
    })
}

fn usage(command: Option<Command>, message: String) -> UsageError {
    UsageError { message, command }
}

/// An argument as it can be shown on one line.
fn shown(arg: &OsStr) -> String {
    escape(&arg.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<OsString> {
        None
    }

    fn parse_with(args: &[&[u8]], env: &[(&str, &str)]) -> Result<Request, UsageError> {
        let argv = args.iter().map(|a| OsStr::from_bytes(a).to_os_string());
        parse(argv, |name| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    fn run(args: &[&[u8]], env: &[(&str, &str)]) -> Args {
        match parse_with(args, env) {
            Ok(Request::Run(args)) => *args,
            other => panic!("{other:?}"),
        }
    }

    fn error(args: &[&[u8]]) -> String {
        match parse_with(args, &[]) {
            Err(e) => e.message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn paths_take_any_bytes_and_text_does_not() {
        let args = run(&[b"accounts", b"--cache", b"/tmp/\xff.json"], &[]);
        assert_eq!(
            args.cache.unwrap().as_os_str().as_bytes(),
            b"/tmp/\xff.json"
        );
        assert!(error(&[b"token", b"--client-id", b"\xff"]).contains("UTF-8"));
        assert!(error(&[b"\xfflogin"]).contains("unknown command"));
        assert!(error(&[b"login", b"--\xff"]).contains("unknown option"));
    }

    #[test]
    fn dpop_takes_a_key_file_or_none() {
        let args = run(&[b"login", b"--dpop"], &[]);
        assert_eq!(args.dpop, Some(None));
        let args = run(&[b"login", b"--dpop", b"--verbose"], &[]);
        assert_eq!(args.dpop, Some(None));
        assert!(args.verbose);
        let args = run(&[b"login", b"--dpop", b"/keys/k.pem", b"-v"], &[]);
        assert_eq!(args.dpop, Some(Some(PathBuf::from("/keys/k.pem"))));
        let args = run(&[b"token", b"--dpop=/k.pem"], &[]);
        assert_eq!(args.dpop, Some(Some(PathBuf::from("/k.pem"))));
        let args = run(&[b"token"], &[("DEVICECODE_DPOP", "/env.pem")]);
        assert_eq!(args.dpop, Some(Some(PathBuf::from("/env.pem"))));
        assert_eq!(run(&[b"token"], &[]).dpop, None);
        assert!(error(&[b"accounts", b"--dpop"]).contains("does not take"));
        assert!(error(&[b"headers", b"--method", b"GET"]).contains("--url"));
        let args = run(
            &[b"headers", b"--method", b"GET", b"--url", b"https://a/b"],
            &[],
        );
        assert_eq!(args.method.as_deref(), Some("GET"));
        assert_eq!(args.url.as_deref(), Some("https://a/b"));
    }

    #[test]
    fn the_command_line_outranks_the_environment() {
        let env = [
            ("DEVICECODE_CLIENT_ID", "from-env"),
            ("DEVICECODE_ISSUER", "https://issuer.example"),
            ("DEVICECODE_SCOPE", " a  b "),
            ("DEVICECODE_TIMEOUT", "30"),
        ];
        let args = run(&[b"login"], &env);
        assert_eq!(args.client_id.as_deref(), Some("from-env"));
        assert_eq!(args.scopes, ["a", "b"]);
        assert_eq!(args.timeout, Some(30));
        let args = run(
            &[
                b"login",
                b"--client-id=cli",
                b"--tenant",
                b"t",
                b"--scope",
                b"c",
            ],
            &env,
        );
        assert_eq!(args.client_id.as_deref(), Some("cli"));
        assert_eq!(args.server, Some(Server::Tenant("t".into())));
        assert_eq!(args.scopes, ["c"]);
        // A variable for an option the command does not take is not its business.
        assert_eq!(run(&[b"token"], &env).scopes, ["a", "b"]);
        assert!(run(&[b"accounts"], &env).scopes.is_empty());
    }

    #[test]
    fn help_and_version_win() {
        assert!(matches!(parse_with(&[b"-h"], &[]), Ok(Request::Help(None))));
        assert!(matches!(
            parse_with(&[b"help"], &[]),
            Ok(Request::Help(None))
        ));
        assert!(matches!(
            parse_with(&[b"help", b"logout"], &[]),
            Ok(Request::Help(Some(Command::Logout)))
        ));
        assert!(matches!(
            parse_with(&[b"token", b"--client-id", b"x", b"--help"], &[]),
            Ok(Request::Help(Some(Command::Token)))
        ));
        assert!(matches!(parse_with(&[b"-V"], &[]), Ok(Request::Version)));
        assert!(error(&[b"help", b"me"]).contains("not a command"));
        let _ = no_env("x");
    }

    #[test]
    fn bad_values_are_usage_errors() {
        assert!(error(&[b"token", b"--scope", b"a b"]).contains("own --scope"));
        assert!(error(&[b"token", b"--scope", b"a\x1b]0;x\x07"]).contains("\\u{1b}"));
        assert!(error(&[b"token", b"--cache", b""]).contains("empty"));
        assert!(error(&[b"token", b"--ca-file="]).contains("empty"));
        assert!(error(&[b"login", b"--timeout", b"0"]).contains("at least 1"));
        assert!(error(&[b"login", b"--timeout", b"-1"]).contains("seconds"));
        assert!(error(&[b"login", b"--timeout", b"99999999999999999999"]).contains("seconds"));
        assert!(error(&[b"token", b"--timeout", b"5"]).contains("does not take"));
        assert!(error(&[b"token", b"--tenant", b"a", b"--tenant", b"b"]).contains("twice"));
        assert!(error(&[b"token", b"--tenant", b"a", b"--issuer", b"b"]).contains("only one"));
        assert!(error(&[b"token", b"--device-endpoint", b"a"]).contains("go together"));
        assert!(error(&[b"token", b"--force-refresh=yes"]).contains("no value"));
        assert!(error(&[b"token", b"--account"]).contains("needs a value"));
        assert!(error(&[b"token", b"--client-id", b"a b"]).contains("--client-id"));
    }

    #[test]
    fn the_qr_code_is_on_unless_no_qr_and_both_contradict() {
        assert!(run(&[b"login"], &[]).qr);
        assert!(run(&[b"login", b"--qr"], &[]).qr);
        assert!(!run(&[b"login", b"--no-qr"], &[]).qr);
        assert!(error(&[b"login", b"--qr", b"--no-qr"]).contains("contradict"));
        assert!(error(&[b"token", b"--no-qr"]).contains("does not take"));
    }
}
