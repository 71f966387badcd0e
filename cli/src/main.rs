//! `devicecode`: sign a headless device in from the command line, and get
//! its tokens later without anyone present.
//!
//! ```text
//! devicecode login    --client-id ID <authority> [--scope S]... [--ca-file PEM] [--timeout SECS] [--cache FILE]
//! devicecode token    --client-id ID <authority> [--scope S]... [--ca-file PEM] [--cache FILE]
//!                     [--account USERNAME] [--force-refresh]
//! devicecode accounts [--client-id ID <authority>] [--cache FILE]
//! devicecode logout   [--client-id ID <authority>] [--cache FILE] [--account USERNAME]
//!
//! <authority>: --tenant T | --authority URL | --issuer URL | --device-endpoint URL --token-endpoint URL
//! ```
//!
//! `login` shows a code, waits, and saves the tokens; it never prints a token.
//! `token` prints only the access token on stdout, from the cache or by a
//! silent refresh; it never starts a sign-in. The cache defaults to
//! `$STATE_DIRECTORY`, `$XDG_STATE_HOME/devicecode` or
//! `~/.local/state/devicecode` (`tokens.json`). Without `--client-id`,
//! `accounts` lists every account in the file and `logout` removes the
//! account's tokens of every application; with it, only that application's.
//!
//! Exit codes: 0 success, 2 usage or configuration, 3 interaction required
//! (run `login`), 4 declined, 5 expired (or `--timeout` reached), 6 cancelled
//! (Ctrl-C / SIGTERM), 7 network, 8 other service error, 9 token cache error.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use devicecode::{
    Account, Authority, CancelHandle, ErrorKind, FileCache, PublicClient, SilentOptions,
};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: devicecode login|token|accounts|logout --client-id ID (--tenant T | --authority URL | --issuer URL | --device-endpoint URL --token-endpoint URL) [--scope S]... [--ca-file PEM] [--timeout SECS] [--cache FILE] [--account USERNAME] [--force-refresh] [--verbose]";

#[derive(Debug, Default)]
struct Args {
    command: String,
    client_id: Option<String>,
    tenant: Option<String>,
    authority: Option<String>,
    issuer: Option<String>,
    device_endpoint: Option<String>,
    token_endpoint: Option<String>,
    scopes: Vec<String>,
    ca_file: Option<String>,
    timeout: Option<u64>,
    cache: Option<String>,
    account: Option<String>,
    force_refresh: bool,
    verbose: bool,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        command: argv.next().ok_or("no command given")?,
        ..Args::default()
    };
    if !["login", "token", "accounts", "logout"].contains(&args.command.as_str()) {
        return Err(format!("unknown command '{}'", args.command));
    }
    while let Some(flag) = argv.next() {
        match flag.as_str() {
            "--verbose" | "-v" => {
                args.verbose = true;
                continue;
            }
            "--force-refresh" => {
                args.force_refresh = true;
                continue;
            }
            _ => {}
        }
        let mut value = || argv.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--client-id" => args.client_id = Some(value()?),
            "--tenant" => args.tenant = Some(value()?),
            "--authority" => args.authority = Some(value()?),
            "--issuer" => args.issuer = Some(value()?),
            "--device-endpoint" => args.device_endpoint = Some(value()?),
            "--token-endpoint" => args.token_endpoint = Some(value()?),
            "--scope" => args.scopes.push(value()?),
            "--ca-file" => args.ca_file = Some(value()?),
            "--cache" => args.cache = Some(value()?),
            "--account" => args.account = Some(value()?),
            "--timeout" => {
                let text = value()?;
                let secs = text
                    .parse()
                    .map_err(|_| format!("--timeout takes whole seconds, not '{text}'"))?;
                args.timeout = Some(secs);
            }
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    Ok(args)
}

fn authority(args: &Args) -> Result<Authority, String> {
    let chosen = [
        args.tenant.is_some(),
        args.authority.is_some(),
        args.issuer.is_some(),
        args.device_endpoint.is_some() || args.token_endpoint.is_some(),
    ];
    if chosen.iter().filter(|c| **c).count() != 1 {
        return Err("give exactly one of --tenant, --authority, --issuer, or --device-endpoint with --token-endpoint".into());
    }
    let result = match (
        &args.tenant,
        &args.authority,
        &args.issuer,
        &args.device_endpoint,
        &args.token_endpoint,
    ) {
        (Some(tenant), ..) => Authority::entra(tenant),
        (_, Some(url), ..) => Authority::entra_url(url),
        (_, _, Some(url), ..) => Authority::issuer(url),
        (_, _, _, Some(device), Some(token)) => Authority::endpoints(device, token),
        _ => return Err("--device-endpoint and --token-endpoint go together".into()),
    };
    result.map_err(|e| e.to_string())
}

/// A stderr logger for `--verbose`; the library never logs secrets.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("devicecode")
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("[{}] {}", record.level(), record.args());
        }
    }
    fn flush(&self) {}
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("devicecode: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.verbose {
        static LOGGER: StderrLog = StderrLog;
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    }
    let result = match args.command.as_str() {
        "login" => login(&args),
        "token" => token(&args),
        "accounts" => accounts(&args),
        _ => logout(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("devicecode: {message}");
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

fn usage(message: String) -> Failure {
    (2, message)
}

fn failed(error: devicecode::Error) -> Failure {
    (exit_code(error.kind()), error.to_string())
}

fn cache(args: &Args) -> Result<FileCache, Failure> {
    match &args.cache {
        Some(path) => Ok(FileCache::new(path)),
        None => FileCache::at_default_location().map_err(failed),
    }
}

fn client(args: &Args) -> Result<PublicClient, Failure> {
    let client_id = args
        .client_id
        .clone()
        .ok_or_else(|| usage(format!("--client-id is required\n{USAGE}")))?;
    let authority = authority(args).map_err(usage)?;
    let mut builder = PublicClient::builder(client_id)
        .authority(authority)
        .token_cache(cache(args)?);
    if let Some(path) = &args.ca_file {
        let pem =
            std::fs::read(path).map_err(|e| usage(format!("cannot read --ca-file {path}: {e}")))?;
        builder = builder.root_certificates_pem(pem);
    }
    builder.build().map_err(|e| usage(e.to_string()))
}

/// The account named by `--account`, or `None` for the only one.
fn chosen_account(app: &PublicClient, args: &Args) -> Result<Option<Account>, Failure> {
    let Some(name) = &args.account else {
        return Ok(None);
    };
    let accounts = app.accounts().map_err(failed)?;
    accounts
        .into_iter()
        .find(|a| is_named(a, name))
        .map(Some)
        .ok_or_else(|| {
            (
                3,
                format!("no account '{name}' is signed in: run `devicecode login`"),
            )
        })
}

fn login(args: &Args) -> Result<(), Failure> {
    let app = client(args)?;
    // Ctrl-C and SIGTERM (systemd stop) cancel the wait cleanly.
    let cancel = CancelHandle::new();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The pipe wakes the wait at once; the flag alone would be seen
        // only at its next 50 ms look.
        signal_hook::flag::register(signal, cancel.flag())
            .and_then(|_| signal_hook::low_level::pipe::register(signal, cancel.signal_pipe()?))
            .map_err(|e| (2u8, format!("cannot watch signal {signal}: {e}")))?;
    }
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let flow = app.start_device_flow(&scopes).map_err(failed)?;
    app.display(&flow).map_err(failed)?;
    let token = match args.timeout {
        Some(secs) => app.wait_for_token_with_timeout(&flow, &cancel, Duration::from_secs(secs)),
        None => app.wait_for_token(&flow, &cancel),
    }
    .map_err(failed)?;
    let who = token
        .account()
        .map_or("(unknown account)", |a| a.username());
    eprintln!("signed in as {who}");
    Ok(())
}

fn token(args: &Args) -> Result<(), Failure> {
    let app = client(args)?;
    let account = chosen_account(&app, args)?;
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let options = SilentOptions::default().force_refresh(args.force_refresh);
    let token = app
        .acquire_token_silent_with(&scopes, account.as_ref(), &options)
        .map_err(failed)?;
    println!("{}", token.access_token().secret());
    Ok(())
}

fn accounts(args: &Args) -> Result<(), Failure> {
    for account in list_accounts(args)? {
        println!("{}\t{}", account.username(), account.home_account_id());
    }
    Ok(())
}

fn logout(args: &Args) -> Result<(), Failure> {
    let accounts = list_accounts(args)?;
    let doomed: Vec<&Account> = match &args.account {
        Some(name) => accounts.iter().filter(|a| is_named(a, name)).collect(),
        None if accounts.len() <= 1 => accounts.iter().collect(),
        None => {
            return Err(usage(format!(
                "{} accounts are signed in: say which with --account",
                accounts.len()
            )));
        }
    };
    if doomed.is_empty() {
        return Err((3, "no such account is signed in".to_string()));
    }
    for account in doomed {
        // With an application, only its tokens go; without, the account's
        // tokens of every application in the file.
        match &args.client_id {
            Some(_) => client(args)?.remove_account(account),
            None => cache(args)?.remove_account(account),
        }
        .map_err(failed)?;
        eprintln!("signed out {}", account.username());
    }
    Ok(())
}

/// The accounts of the application when one is named, else of the file.
fn list_accounts(args: &Args) -> Result<Vec<Account>, Failure> {
    match &args.client_id {
        Some(_) => client(args)?.accounts(),
        None => cache(args)?.accounts(),
    }
    .map_err(failed)
}

fn is_named(account: &Account, name: &str) -> bool {
    account.username().eq_ignore_ascii_case(name) || account.home_account_id() == name
}

fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Configuration => 2,
        ErrorKind::InteractionRequired => 3,
        ErrorKind::Declined => 4,
        ErrorKind::Expired | ErrorKind::TimedOut => 5,
        ErrorKind::Cancelled => 6,
        ErrorKind::Transport => 7,
        ErrorKind::Cache => 9,
        _ => 8,
    }
}
