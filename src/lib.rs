//! Sign a headless device in with the OAuth 2.0 **device authorization grant**
//! (RFC 8628): Microsoft Entra ID first, any standards-compliant server too.
//!
//! The device asks for a code, shows it (on a terminal, an LCD, in a log line),
//! and polls while a person enters the code on a phone. Everything is blocking
//! and runs on the caller's thread; a whole sign-in uses one HTTP connection.
//!
//! ```no_run
//! use devicecode::{Authority, CancelHandle, PublicClient};
//!
//! let app = PublicClient::builder("11111111-2222-3333-4444-555555555555")
//!     .authority(Authority::entra("contoso.onmicrosoft.com")?)
//!     .build()?;
//! let flow = app.start_device_flow(&["User.Read"])?; // step 1: one request
//! app.display(&flow)?;                               // "To sign in, use a web browser to open ..."
//! let cancel = CancelHandle::new();                  // clone it into a SIGTERM handler
//! let token = app.wait_for_token(&flow, &cancel)?;   // step 2: polls until the person decides
//! let bearer = token.access_token().secret();
//! # let _ = bearer;
//! # Ok::<(), devicecode::Error>(())
//! ```
//!
//! # Pieces
//! - [`Authority`]: an Entra tenant (no discovery request), an issuer found by
//!   discovery, or explicit endpoints.
//! - [`PublicClient`]: the two steps, [`start_device_flow`](PublicClient::start_device_flow)
//!   and [`wait_for_token`](PublicClient::wait_for_token).
//! - [`CodeDisplay`]: how the code reaches a person; [`StdoutDisplay`] by default.
//! - [`CancelHandle`]: stops a wait from another thread or a signal handler.
//! - [`Token`] and [`Account`]: what a sign-in returns, with absolute expiries.
//! - [`FileCache`], [`MemoryCache`] and the [`TokenStore`] trait: where tokens
//!   are kept, in MSAL's token cache format;
//!   [`acquire_token_silent`](PublicClient::acquire_token_silent) returns a
//!   cached token or refreshes it.
//! - [`Error`] with [`ErrorKind`]: what went wrong and what to do about it.
//! - [`Clock`]: injectable time; [`ManualClock`] runs a 15-minute flow in
//!   milliseconds in tests.
//!
//! # Polling rules
//! The first poll waits one `interval` after the code arrives; `authorization_pending`
//! keeps the interval, `slow_down` adds 5 seconds for the rest of the flow; any
//! other OAuth `error` ends the wait, whatever the HTTP status. Network
//! failures, HTTP 5xx and 429 are retried with exponential backoff and jitter
//! (never sooner than the interval, and never sooner than `Retry-After`) until
//! the code expires. Deadlines use the monotonic clock, so a wall clock that
//! jumps when NTP syncs does not cut the wait short.
//!
//! # Features
//! - `bundled-roots` (default): Mozilla's root certificates compiled in, as
//!   trust anchors parsed at build time (`webpki-roots`).
//! - `qr` (default): `QrCode`, the sign-in address as a QR code module
//!   matrix, which [`StdoutDisplay`] also draws on a terminal (13.4 KiB on
//!   aarch64).
//! - `dpop` (default): DPoP (RFC 9449), tokens bound to a key:
//!   `PublicClientBuilder::dpop`, `DpopKey`, `DpopSigner` (21.9 KiB on
//!   aarch64).
//!
//! # Testing your program offline
//! The crate `devicecode-test-authority` (in this repository's
//! `test-authority/`) is an HTTPS authorization server on loopback that
//! behaves like Entra ID or a plain RFC 8628 server; add it as a
//! dev-dependency to test a daemon without the internet.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod authority;
mod cache;
mod cancel;
mod claims;
mod client;
mod clock;
mod device_flow;
mod display;
mod dpop;
mod error;
mod http;
mod json;
mod json_write;
mod oauth;
mod refresh_ahead;
mod request;
mod sanitize;
mod secret;
mod silent;
mod tls;
mod token;

pub use authority::Authority;
pub use cache::{FileCache, MemoryCache, StoreLock, TokenStore};
pub use cancel::CancelHandle;
pub use claims::claims_challenge_from_www_authenticate;
pub use client::{PublicClient, PublicClientBuilder};
pub use clock::{Clock, ManualClock, SystemClock};
pub use device_flow::DeviceFlow;
#[cfg(feature = "qr")]
pub use display::QrCode;
pub use display::{CodeDisplay, FnDisplay, LogDisplay, Outcome, StdoutDisplay};
pub use dpop::ResourceHeaders;
#[cfg(feature = "dpop")]
pub use dpop::{DpopKey, DpopSigner};
pub use error::{Error, ErrorKind, ServiceError};
pub use secret::{AccessToken, AuthorizationHeader, DeviceCode, IdToken, RefreshToken};
pub use silent::SilentOptions;
pub use tls::check_root_certificates_pem;
pub use token::{Account, Token};

#[cfg(any(test, feature = "__fuzz"))]
#[doc(hidden)]
pub mod fuzzing;

/// The README's examples are compiled as doctests, so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
