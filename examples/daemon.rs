//! A systemd-style daemon: gets a token silently when it can, signs in with
//! the device code when it must, and stops cleanly on SIGTERM.
//!
//! Configuration comes from the environment (a unit's `Environment=` lines):
//! - `DEVICECODE_CLIENT_ID` (required), and `DEVICECODE_TENANT` (default
//!   `organizations`) or `DEVICECODE_AUTHORITY` (a full authority URL);
//! - `DEVICECODE_SCOPE`: space-separated (default `User.Read`);
//! - `DEVICECODE_EVERY`: seconds between two uses of the token (default 300);
//! - `DEVICECODE_CA_FILE`: extra root certificates (PEM), e.g. for a proxy;
//! - tokens live in `$STATE_DIRECTORY/tokens.json` (systemd `StateDirectory=`).
//!
//! There is no terminal: the code goes to the journal, and to
//! `$RUNTIME_DIRECTORY/signin-code` (or `<state dir>/signin-code`) for an LCD
//! or a status page to pick up, with the address as a QR code beside it in
//! `signin-code.pbm` (a 1-bit PBM image, one pixel per module, quiet zone
//! included: scale it by a whole number for the panel). Both are removed
//! when the sign-in ends. See `examples/devicecode-daemon.service`.

use devicecode::{
    Authority, CancelHandle, CodeDisplay, DeviceFlow, ErrorKind, FileCache, Outcome, PublicClient,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Shows the code in the journal and in files another program displays.
struct PanelDisplay {
    code_file: PathBuf,
}

impl PanelDisplay {
    fn image_file(&self) -> PathBuf {
        self.code_file.with_extension("pbm")
    }
}

/// Writes `bytes` aside and renames them into place, so a reader never sees
/// half a file.
fn replace(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".new");
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path)
}

/// The QR code as a raw (P4) PBM: 1 is black, rows padded to whole bytes.
#[cfg(feature = "qr")]
fn pbm(code: &devicecode::QrCode) -> Vec<u8> {
    // The standard's quiet zone: a panel shows nothing else around it.
    const QUIET: usize = 4;
    let side = code.size().saturating_add(2 * QUIET);
    let mut image = format!("P4\n{side} {side}\n").into_bytes();
    for y in 0..side {
        let mut row = vec![0u8; side.div_ceil(8)];
        for x in 0..side {
            let dark = x >= QUIET && y >= QUIET && code.is_dark(x - QUIET, y - QUIET);
            if let Some(byte) = row.get_mut(x / 8).filter(|_| dark) {
                *byte |= 0x80 >> (x % 8);
            }
        }
        image.extend(row);
    }
    image
}

impl CodeDisplay for PanelDisplay {
    fn show(&self, flow: &DeviceFlow) -> std::io::Result<()> {
        // "<5>" is the journal's "notice" priority.
        eprintln!("<5>{}", flow.message());
        // The image first: a reader that sees the code file finds its QR code.
        #[cfg(feature = "qr")]
        if let Some(code) = devicecode::QrCode::for_flow(flow) {
            replace(&self.image_file(), &pbm(&code))?;
        }
        let text = format!("{}\n{}\n", flow.verification_uri(), flow.user_code());
        replace(&self.code_file, text.as_bytes())
    }

    fn finished(&self, outcome: &Outcome<'_>) {
        let _ = std::fs::remove_file(&self.code_file);
        let _ = std::fs::remove_file(self.image_file());
        match outcome {
            Outcome::SignedIn(account) => eprintln!(
                "<5>signed in as {}",
                account.map_or("(unknown account)", |a| a.username())
            ),
            Outcome::Failed(error) => eprintln!("<4>sign-in failed: {error:#}"),
            _ => {}
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn build() -> Result<PublicClient, String> {
    let client_id = env("DEVICECODE_CLIENT_ID").ok_or("DEVICECODE_CLIENT_ID is not set")?;
    let authority = match env("DEVICECODE_AUTHORITY") {
        Some(url) => Authority::entra_url(&url),
        None => Authority::entra(&env("DEVICECODE_TENANT").unwrap_or("organizations".into())),
    }
    .map_err(|e| e.to_string())?;
    let cache = FileCache::at_default_location()
        .map_err(|e| e.to_string())?
        // Unattended: a damaged file is kept aside and the device signs in again.
        .start_fresh_when_unreadable();
    let state_dir = cache.path().parent().map(PathBuf::from).unwrap_or_default();
    let code_dir = env("RUNTIME_DIRECTORY")
        .and_then(|dirs| dirs.split(':').next().map(PathBuf::from))
        .unwrap_or(state_dir);
    let mut builder = PublicClient::builder(client_id)
        .authority(authority)
        .token_cache(cache)
        .display(PanelDisplay {
            code_file: code_dir.join("signin-code"),
        });
    if let Some(path) = env("DEVICECODE_CA_FILE") {
        // A CA bundle is small; a device or FIFO given by mistake is refused
        // before it is opened, instead of read for ever.
        if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            return Err(format!("{path} is not a regular file"));
        }
        let mut pem = Vec::new();
        std::fs::File::open(&path)
            .and_then(|file| {
                std::io::Read::read_to_end(&mut std::io::Read::take(file, 1 << 20), &mut pem)
            })
            .map_err(|e| format!("cannot read {path}: {e}"))?;
        if pem.len() >= 1 << 20 {
            return Err(format!("{path} is larger than a CA bundle can be (1 MiB)"));
        }
        builder = builder.root_certificates_pem(pem);
    }
    builder.build().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let app = match build() {
        Ok(app) => app,
        Err(problem) => {
            eprintln!("<3>devicecode-daemon: {problem}");
            // A configuration error: restarting will not help (see the unit's
            // RestartPreventExitStatus=).
            return ExitCode::from(2);
        }
    };
    let cancel = CancelHandle::new();
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // The flag makes is_cancelled() true; the byte the handler writes
        // to the pipe wakes a sleeping wait at once.
        let watched = signal_hook::flag::register(signal, cancel.flag())
            .and_then(|_| signal_hook::low_level::pipe::register(signal, cancel.signal_pipe()?));
        if let Err(e) = watched {
            eprintln!("<3>cannot watch signal {signal}: {e}");
            return ExitCode::from(2);
        }
    }
    let scopes_text = env("DEVICECODE_SCOPE").unwrap_or("User.Read".into());
    let scopes: Vec<&str> = scopes_text.split_whitespace().collect();
    let every = Duration::from_secs(
        env("DEVICECODE_EVERY")
            .and_then(|s| s.parse().ok())
            .unwrap_or(300),
    );

    while !cancel.is_cancelled() {
        let token = match app.acquire_token_silent(&scopes, None) {
            Ok(token) => Ok(token),
            Err(e) if e.is_interaction_required() => {
                eprintln!("<5>{e}");
                app.sign_in_with_device_code(&scopes, &cancel)
            }
            Err(e) => Err(e),
        };
        match token {
            // Use the token here: call your API with `Authorization: Bearer ...`.
            Ok(token) => eprintln!(
                "<6>have a token for {}, valid for {} s",
                token
                    .account()
                    .map_or("(unknown account)", |a| a.username()),
                token
                    .expires_at()
                    .duration_since(std::time::SystemTime::now())
                    .map_or(0, |d| d.as_secs())
            ),
            Err(e) if e.kind() == ErrorKind::Cancelled => break,
            // Network trouble or a clock not yet set: try again next round.
            Err(e) if e.is_retryable() => eprintln!("<4>{e:#}; retrying later"),
            // Anything else needs a person: exit non-zero so systemd's
            // Restart=on-failure and the journal make it visible.
            Err(e) => {
                eprintln!("<3>{e:#}");
                return ExitCode::from(1);
            }
        }
        // One sleep that SIGTERM ends at once.
        let wake = Instant::now() + every;
        while !cancel.is_cancelled() && Instant::now() < wake {
            cancel.wait_timeout(wake.saturating_duration_since(Instant::now()));
        }
    }
    eprintln!("<6>stopping");
    ExitCode::SUCCESS
}
