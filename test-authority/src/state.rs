//! What the authority remembers: device codes, sign-ins and their refresh
//! tokens, queued faults and the statistics.

use crate::dpop::DpopState;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::util::Rng;
use super::{Certificate, Endpoint, Fault, IssuedAccessToken, Stats};

/// The person's decision on a device code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    Pending,
    Approved,
    Denied,
}

/// A device code that was issued.
#[derive(Debug)]
pub(super) struct DeviceCode {
    pub(super) user_code: String,
    pub(super) client_id: String,
    pub(super) scopes: Vec<String>,
    /// The tenant path segment of the request (Entra), kept for the tokens.
    pub(super) tenant: Option<String>,
    pub(super) issued: Instant,
    /// `expires_in`: kept as a duration (not an `Instant`) so that no
    /// configured lifetime can overflow the clock.
    pub(super) lifetime: Duration,
    /// The interval the client must keep now; grows by 5 s on each `slow_down`.
    pub(super) interval: u64,
    pub(super) last_poll: Option<Instant>,
    /// Polls that were on time (not answered `slow_down`).
    pub(super) polls: u32,
    pub(super) decision: Decision,
    /// Tokens were handed out for it; it cannot be used again.
    pub(super) redeemed: bool,
}

impl DeviceCode {
    /// True once the code's lifetime is over.
    pub(super) fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.issued) >= self.lifetime
    }

    /// True if the code can still be decided on by the person.
    pub(super) fn open(&self, now: Instant) -> bool {
        self.decision == Decision::Pending && !self.redeemed && !self.expired(now)
    }
}

/// A refresh token that was issued.
#[derive(Debug)]
pub(super) struct RefreshToken {
    /// The sign-in it belongs to (index into `State::grants`).
    pub(super) grant: usize,
    pub(super) client_id: String,
    /// The scopes of the sign-in (what a refresh may ask for).
    pub(super) scopes: Vec<String>,
    pub(super) tenant: Option<String>,
    /// Already exchanged for a newer one (rotation).
    pub(super) spent: bool,
    /// The thumbprint of the DPoP key it is bound to.
    pub(super) jkt: Option<String>,
}

/// Why a sign-in is no longer valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grant {
    Active,
    /// A spent refresh token was presented again.
    RevokedForReplay,
    /// The test called `revoke_refresh_tokens`.
    Revoked,
}

/// A fault on every n-th request to an endpoint.
#[derive(Debug)]
pub(super) struct Standing {
    at: Endpoint,
    every: u32,
    /// Requests to `at` seen since the fault was set.
    seen: u32,
    fault: Fault,
}

impl Standing {
    pub(super) fn new(at: Endpoint, every: u32, fault: Fault) -> Self {
        Standing {
            at,
            every: every.max(1),
            seen: 0,
            fault,
        }
    }
}

/// All mutable state, behind one mutex.
#[derive(Debug)]
pub(super) struct State {
    pub(super) stats: Stats,
    /// Faults in the order queued; the first matching an endpoint is used.
    pub(super) faults: VecDeque<(Endpoint, Fault)>,
    /// Lasting faults on a fraction of the requests.
    pub(super) standing: Vec<Standing>,
    /// What new TLS connections are shown.
    pub(super) certificate: Certificate,
    /// Device codes by their `device_code` value.
    pub(super) codes: HashMap<String, DeviceCode>,
    pub(super) refresh_tokens: HashMap<String, RefreshToken>,
    /// Every access token issued, by its value.
    pub(super) access_tokens: HashMap<String, IssuedAccessToken>,
    /// Every sign-in (a successful device code redemption), by index.
    pub(super) grants: Vec<Grant>,
    pub(super) rng: Rng,
    pub(super) dpop: DpopState,
}

impl State {
    pub(super) fn new() -> Self {
        State {
            stats: Stats::default(),
            faults: VecDeque::new(),
            standing: Vec::new(),
            certificate: Certificate::Valid,
            codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            access_tokens: HashMap::new(),
            grants: Vec::new(),
            rng: Rng::new(),
            dpop: DpopState::default(),
        }
    }

    /// Takes the next fault queued for `endpoint`, else the lasting fault
    /// whose turn it is, if any.
    pub(super) fn take_fault(&mut self, endpoint: Endpoint) -> Option<Fault> {
        if let Some(index) = self.faults.iter().position(|(at, _)| *at == endpoint) {
            return self.faults.remove(index).map(|(_, fault)| fault);
        }
        let mut hit = None;
        for standing in self.standing.iter_mut().filter(|s| s.at == endpoint) {
            // Every lasting fault counts the request, whichever answers it.
            let due = standing.seen % standing.every == 0;
            standing.seen = standing.seen.wrapping_add(1);
            if due && hit.is_none() {
                hit = Some(standing.fault.clone());
            }
        }
        hit
    }

    /// Sets the decision on every code still open.
    pub(super) fn decide_pending(&mut self, now: Instant, decision: Decision) {
        for code in self.codes.values_mut() {
            if code.open(now) {
                code.decision = decision;
            }
        }
    }

    /// Finds an issued code by the user code a person typed: case, spaces and
    /// dashes do not matter, as on real verification pages.
    pub(super) fn code_by_user_code(&mut self, typed: &str) -> Option<&mut DeviceCode> {
        let wanted = normalise_user_code(typed);
        if wanted.is_empty() {
            return None;
        }
        self.codes
            .values_mut()
            .find(|code| normalise_user_code(&code.user_code) == wanted)
    }

    /// Starts a new sign-in and returns its index.
    pub(super) fn new_grant(&mut self) -> usize {
        self.grants.push(Grant::Active);
        self.grants.len() - 1
    }

    pub(super) fn grant(&self, index: usize) -> Grant {
        self.grants.get(index).copied().unwrap_or(Grant::Revoked)
    }

    pub(super) fn set_grant(&mut self, index: usize, grant: Grant) {
        if let Some(slot) = self.grants.get_mut(index) {
            *slot = grant;
        }
    }

    pub(super) fn revoke_all_grants(&mut self) {
        for grant in &mut self.grants {
            *grant = Grant::Revoked;
        }
    }
}

fn normalise_user_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}
