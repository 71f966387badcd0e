//! End-to-end flows against the test authority over loopback HTTPS, in one
//! test binary: Entra and generic servers, proxies, shared agents, the fault
//! matrix and the daemon example as a process.

#[path = "../common/mod.rs"]
mod common;

mod daemon;
#[cfg(feature = "dpop")]
mod dpop;
mod entra;
mod faults;
mod generic;
mod msal_parity;
mod proxy;
mod shared_agent;
