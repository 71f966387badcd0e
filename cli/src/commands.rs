//! The four commands, on a checked command line.

use crate::args::{Args, Server};
use crate::bearer::is_b64token;
use crate::failure::{Failure, code};
use crate::output::{err, escape, out};
use crate::{ca_file, options::Command};
use devicecode::{
    Account, Authority, CancelHandle, Error, ErrorKind, FileCache, PublicClient,
    PublicClientBuilder, SilentOptions, StdoutDisplay, Token,
};
use std::time::Duration;

pub fn run(args: &Args) -> Result<(), Failure> {
    match args.command {
        Command::Login => login(args),
        Command::Token => token(args),
        Command::Accounts => accounts(args),
        Command::Logout => logout(args),
        Command::Headers => headers(args),
    }
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
            .map_err(|e| Failure::usage(format!("cannot watch signal {signal}: {e}")))?;
    }
    let flow = app
        .start_device_flow_with_claims(&scopes(args), args.claims_challenge.as_deref())
        .map_err(|e| failed(args, &e))?;
    app.display(&flow).map_err(|e| failed(args, &e))?;
    let token = match args.timeout {
        Some(secs) => app.wait_for_token_with_timeout(&flow, &cancel, Duration::from_secs(secs)),
        None => app.wait_for_token(&flow, &cancel),
    }
    .map_err(|e| failed(args, &e))?;
    let who = token
        .account()
        .map_or("(unknown account)", |a| a.username());
    if let Some(e) = token.cache_error() {
        // The file was checked before the code was shown; it failed after.
        return Err(Failure::new(
            code::CACHE,
            format!(
                "signed in as {who}, but the tokens could not be saved: {}; run `devicecode login` again once that is fixed",
                Failure::from_error(e).message
            ),
        ));
    }
    match token.dpop_thumbprint() {
        // For support: which key the tokens are bound to.
        Some(key) => err(&format!(
            "signed in as {who} (tokens bound to DPoP key {key})"
        )),
        None => err(&format!("signed in as {who}")),
    }
    Ok(())
}

fn token(args: &Args) -> Result<(), Failure> {
    let app = client(args)?;
    let token = silent_token(&app, args)?;
    let secret = token.access_token().secret();
    if !is_b64token(secret) {
        return Err(Failure::new(
            code::SERVICE,
            "the access token has characters a bearer token cannot have (RFC 6750), such as spaces, line breaks or terminal escapes: it is not printed. If another program wrote the token file, `devicecode token --force-refresh` gets a new token; otherwise the server sent it, and its operator should know",
        ));
    }
    out(secret).map_err(|e| Failure::usage(format!("could not write the token to stdout: {e}")))?;
    // The server answered and the token is good, but the file did not take
    // it: a rotated refresh token now lives only in this process, which ends.
    match token.cache_error() {
        Some(e) => Err(Failure::new(
            code::NOT_SAVED,
            format!(
                "the token was printed, but {}; the newest refresh token is lost when this command ends, so fix that before the next refresh",
                Failure::from_error(e).message
            ),
        )),
        None => Ok(()),
    }
}

/// The token `token` and `headers` use: cached, or silently refreshed.
fn silent_token(app: &PublicClient, args: &Args) -> Result<Token, Failure> {
    let account = chosen_account(app, args)?;
    let mut options = SilentOptions::default().force_refresh(args.force_refresh);
    if let Some(claims) = &args.claims_challenge {
        options = options.claims_challenge(claims.clone());
    }
    app.acquire_token_silent_with(&scopes(args), account.as_ref(), &options)
        .map_err(|e| failed(args, &e))
}

fn headers(args: &Args) -> Result<(), Failure> {
    let (Some(method), Some(url)) = (&args.method, &args.url) else {
        return Err(Failure::usage("headers needs --method and --url"));
    };
    let app = client(args)?;
    let token = silent_token(&app, args)?;
    let headers = app
        .resource_headers(&token, method, url)
        .map_err(|e| Failure::from_error(&e))?;
    let lines = headers.lines().join("\n");
    out(&lines)
        .map_err(|e| Failure::usage(format!("could not write the headers to stdout: {e}")))?;
    match token.cache_error() {
        Some(e) => Err(Failure::new(
            code::NOT_SAVED,
            format!(
                "the headers were printed, but {}; the newest refresh token is lost when this command ends, so fix that before the next refresh",
                Failure::from_error(e).message
            ),
        )),
        None => Ok(()),
    }
}

fn accounts(args: &Args) -> Result<(), Failure> {
    let mut lines = String::new();
    for account in list_accounts(args)? {
        // The library makes usernames printable; the id is shown as the
        // file holds it, and any program of the user can write that file.
        lines.push_str(&format!(
            "{}\t{}\n",
            account.username(),
            escape(account.home_account_id())
        ));
    }
    if lines.is_empty() {
        return Ok(());
    }
    out(lines.trim_end_matches('\n'))
        .map_err(|e| Failure::usage(format!("could not write the accounts to stdout: {e}")))
}

fn logout(args: &Args) -> Result<(), Failure> {
    let accounts = list_accounts(args)?;
    let doomed: Vec<&Account> = match &args.account {
        Some(name) => accounts.iter().filter(|a| is_named(a, name)).collect(),
        None if accounts.len() <= 1 => accounts.iter().collect(),
        None => return Err(several(&accounts)),
    };
    if doomed.is_empty() {
        return Err(Failure::new(
            code::INTERACTION_REQUIRED,
            match &args.account {
                Some(name) => format!("no account '{}' is signed in", escape(name)),
                None => "no account is signed in".to_string(),
            },
        ));
    }
    for account in doomed {
        // With an application, only its tokens go; without, the account's
        // tokens of every application in the file.
        match &args.client_id {
            Some(_) => client(args)?.remove_account(account),
            None => cache(args)?.remove_account(account),
        }
        .map_err(|e| Failure::from_error(&e))?;
        err(&format!("signed out {}", account.username()));
    }
    Ok(())
}

/// The account named by `--account`; else the only one, or `None` when none
/// is signed in (the library then says so, or uses tokens of no account).
/// The CLI chooses here rather than leaving it to the library, whose advice
/// for several accounts names its own functions.
fn chosen_account(app: &PublicClient, args: &Args) -> Result<Option<Account>, Failure> {
    let accounts = app.accounts().map_err(|e| Failure::from_error(&e))?;
    let Some(name) = &args.account else {
        return match accounts.len() {
            0 => Ok(None),
            1 => Ok(accounts.into_iter().next()),
            _ => Err(several(&accounts)),
        };
    };
    accounts
        .into_iter()
        .find(|a| is_named(a, name))
        .map(Some)
        .ok_or_else(|| {
            Failure::new(
                code::INTERACTION_REQUIRED,
                format!(
                    "no account '{}' is signed in to this application: run `devicecode login` to sign it in",
                    escape(name)
                ),
            )
        })
}

/// Several accounts and no `--account`. Usernames come out of the library
/// already made printable.
fn several(accounts: &[Account]) -> Failure {
    let names: Vec<&str> = accounts.iter().map(Account::username).collect();
    Failure::usage(format!(
        "{} accounts are signed in ({}): say which with --account USERNAME",
        names.len(),
        names.join(", ")
    ))
}

/// The accounts of the application when one is named, else of the file.
fn list_accounts(args: &Args) -> Result<Vec<Account>, Failure> {
    match &args.client_id {
        Some(_) => client(args)?.accounts(),
        None => cache(args)?.accounts(),
    }
    .map_err(|e| Failure::from_error(&e))
}

fn is_named(account: &Account, name: &str) -> bool {
    account.username().eq_ignore_ascii_case(name) || account.home_account_id() == name
}

fn scopes(args: &Args) -> Vec<&str> {
    args.scopes.iter().map(String::as_str).collect()
}

fn cache(args: &Args) -> Result<FileCache, Failure> {
    match &args.cache {
        Some(path) => Ok(FileCache::new(path)),
        // The library's own message tells a programmer which function to
        // call; here the answer is a flag.
        None => FileCache::at_default_location().map_err(|_| {
            Failure::usage(
                "no place for the token file: none of STATE_DIRECTORY, XDG_STATE_HOME or HOME is set; give --cache FILE or set DEVICECODE_CACHE",
            )
        }),
    }
}

fn client(args: &Args) -> Result<PublicClient, Failure> {
    let client_id = args
        .client_id
        .clone()
        .ok_or_else(|| Failure::usage("--client-id is required (or DEVICECODE_CLIENT_ID)"))?;
    let cache = cache(args)?;
    let mut builder = PublicClient::builder(client_id)
        .authority(authority(args)?)
        .display(StdoutDisplay::new().qr(args.qr))
        .client_capabilities(args.capabilities.iter().cloned());
    let mut ca = None;
    if let Some(path) = &args.ca_file {
        let pem = ca_file::read(path).map_err(Failure::usage)?;
        builder = builder.root_certificates_pem(&pem);
        ca = Some((path, pem));
    }
    builder = with_dpop(builder, args, cache.path())?;
    let app = builder.token_cache(cache).build().map_err(|e| {
        // The bundle is looked at again only when the build failed: if it
        // is the cause, the message names the flag.
        ca.and_then(|(path, pem)| check_roots(path, &pem).err())
            .unwrap_or_else(|| Failure::from_error(&e))
    })?;
    if let Some(thumbprint) = app.dpop_thumbprint() {
        log::info!("DPoP key thumbprint {thumbprint}");
    }
    Ok(app)
}

/// `--dpop`: the key file given, or the one beside the token file.
#[cfg(feature = "dpop")]
fn with_dpop(
    builder: PublicClientBuilder,
    args: &Args,
    cache: &std::path::Path,
) -> Result<PublicClientBuilder, Failure> {
    let beside = devicecode::DpopKey::path_beside(cache);
    Ok(match &args.dpop {
        Some(Some(path)) => builder.dpop_key_file(path),
        Some(None) => builder.dpop_key_file(&beside),
        // A sign-in made with --dpop left its key beside the token file:
        // later commands use it without being told.
        None if args.command != Command::Login && beside.exists() => builder.dpop_key_file(&beside),
        None => builder,
    })
}

#[cfg(not(feature = "dpop"))]
fn with_dpop(
    builder: PublicClientBuilder,
    args: &Args,
    _cache: &std::path::Path,
) -> Result<PublicClientBuilder, Failure> {
    match args.dpop {
        Some(_) => Err(Failure::usage(
            "--dpop needs a devicecode built with the `dpop` feature",
        )),
        None => Ok(builder),
    }
}

/// A PEM file without a usable certificate is reported with the flag that
/// named it: the library's message speaks of "the PEM bundle". Checked
/// without building a client, and only after a build or a request failed,
/// so that a good bundle is parsed once, and only by a command that
/// connects.
fn check_roots(path: &std::path::Path, pem: &[u8]) -> Result<(), Failure> {
    devicecode::check_root_certificates_pem(pem)
        .map(drop)
        .map_err(|e| {
            let shown = escape(&path.to_string_lossy());
            let problem = Failure::from_error(&e).message;
            Failure::usage(format!("--ca-file {shown}: {problem}"))
        })
}

fn authority(args: &Args) -> Result<Authority, Failure> {
    let result = match &args.server {
        Some(Server::Tenant(tenant)) => Authority::entra(tenant),
        Some(Server::Authority(url)) => Authority::entra_url(url),
        Some(Server::Issuer(url)) => Authority::issuer(url),
        Some(Server::Endpoints { device, token }) => Authority::endpoints(device, token),
        None => {
            return Err(Failure::usage(
                "no server given: give --tenant, --authority, --issuer, or --device-endpoint with --token-endpoint (or their DEVICECODE_ variables)",
            ));
        }
    };
    result.map_err(|e| Failure::from_error(&e))
}

/// A library error from a step that talks to the server, with advice in
/// the command line's terms where the situation calls for it.
fn failed(args: &Args, error: &Error) -> Failure {
    // The client looked the --ca-file bundle over when it was built and
    // parses it at its first request: a certificate that looked whole but
    // is no root fails there, and is named with the flag as at the build.
    if error.kind() == ErrorKind::Configuration
        && let Some(path) = &args.ca_file
        && let Ok(pem) = ca_file::read(path)
        && let Err(failure) = check_roots(path, &pem)
    {
        return failure;
    }
    let mut failure = Failure::from_error(error);
    // Discovery is the only step where --issuer can be wrong in a way the
    // endpoints would fix.
    if matches!(args.server, Some(Server::Issuer(_))) && error.kind() == ErrorKind::Configuration {
        failure.message.push_str(
            " (if the server supports the device flow, give --device-endpoint and --token-endpoint instead of --issuer)",
        );
    }
    failure
}
