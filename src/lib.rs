//! placeholder crate docs (being written)
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod authority;
mod cancel;
mod client;
mod clock;
mod device_flow;
mod display;
mod error;
mod http;
mod json;
mod secret;
mod token_response;

pub use authority::Authority;
pub use cancel::CancelHandle;
pub use client::{PublicClient, PublicClientBuilder};
pub use clock::{Clock, ManualClock, SystemClock};
pub use device_flow::DeviceFlow;
pub use display::{CodeDisplay, FnDisplay, LogDisplay, Outcome, StdoutDisplay};
pub use error::{Error, ErrorKind, ServiceError};
pub use secret::{AccessToken, DeviceCode, IdToken, RefreshToken};
pub use token_response::{Account, Token};

#[cfg(feature = "test-authority")]
pub mod test_authority;
