//! placeholder crate docs (being written)
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
pub use clock::{Clock, ManualClock, SystemClock};

#[cfg(feature = "test-authority")]
pub mod test_authority;
