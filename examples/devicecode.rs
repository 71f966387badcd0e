//! `devicecode`: sign a headless device in from the command line.
//!
//! ```text
//! devicecode login --client-id ID (--tenant T | --authority URL | --issuer URL
//!                  | --device-endpoint URL --token-endpoint URL)
//!                  [--scope S]... [--ca-file PEM] [--timeout SECS] [--cache FILE] [--verbose]
//! ```
//!
//! Exit codes: 0 signed in, 2 usage or configuration, 4 declined, 5 expired
//! (or `--timeout` reached), 6 cancelled (Ctrl-C / SIGTERM), 7 network,
//! 8 other service error. No token is ever printed by `login`.

use devicecode::{Authority, CancelHandle, ErrorKind, PublicClient};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: devicecode login --client-id ID (--tenant T | --authority URL | --issuer URL | --device-endpoint URL --token-endpoint URL) [--scope S]... [--ca-file PEM] [--timeout SECS] [--cache FILE] [--verbose]";

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
    verbose: bool,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        command: argv.next().ok_or("no command given")?,
        ..Args::default()
    };
    if args.command != "login" {
        return Err(format!("unknown command '{}'", args.command));
    }
    while let Some(flag) = argv.next() {
        if flag == "--verbose" || flag == "-v" {
            args.verbose = true;
            continue;
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
    match login(&args) {
        Ok(username) => {
            eprintln!("signed in as {username}");
            ExitCode::SUCCESS
        }
        Err((code, message)) => {
            eprintln!("devicecode: {message}");
            ExitCode::from(code)
        }
    }
}

fn login(args: &Args) -> Result<String, (u8, String)> {
    let usage = |m: String| (2u8, m);
    let client_id = args
        .client_id
        .clone()
        .ok_or_else(|| usage(format!("--client-id is required\n{USAGE}")))?;
    let authority = authority(args).map_err(usage)?;
    if args.cache.is_some() {
        eprintln!("devicecode: note: --cache is not used yet; tokens are not saved");
    }
    let mut builder = PublicClient::builder(client_id).authority(authority);
    if let Some(path) = &args.ca_file {
        let pem =
            std::fs::read(path).map_err(|e| usage(format!("cannot read --ca-file {path}: {e}")))?;
        builder = builder.root_certificates_pem(pem);
    }
    let app = builder.build().map_err(|e| usage(e.to_string()))?;

    // Ctrl-C and SIGTERM (systemd stop) cancel the wait cleanly.
    let cancel = CancelHandle::new();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, cancel.flag())
            .map_err(|e| (2u8, format!("cannot watch signal {signal}: {e}")))?;
    }

    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let result = app.start_device_flow(&scopes).and_then(|flow| {
        app.display(&flow)?;
        match args.timeout {
            Some(secs) => {
                app.wait_for_token_with_timeout(&flow, &cancel, Duration::from_secs(secs))
            }
            None => app.wait_for_token(&flow, &cancel),
        }
    });
    match result {
        Ok(token) => Ok(token.account().map_or_else(
            || "(unknown account)".to_string(),
            |a| a.username().to_string(),
        )),
        Err(error) => Err((exit_code(error.kind()), error.to_string())),
    }
}

fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Configuration => 2,
        ErrorKind::Declined => 4,
        ErrorKind::Expired | ErrorKind::TimedOut => 5,
        ErrorKind::Cancelled => 6,
        ErrorKind::Transport => 7,
        _ => 8,
    }
}
