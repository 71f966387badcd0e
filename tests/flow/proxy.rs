//! Proxies set in code. (`HTTPS_PROXY` from the environment is tested through
//! the CLI, in cli/tests/cli.rs, so the test process's own environment is
//! left alone.) The proxy is a minimal HTTP CONNECT tunnel on loopback.

use crate::common::proxy::connect_proxy;
use crate::common::*;
use devicecode::{Authority, CancelHandle, ManualClock};
use devicecode_test_authority::{Approval, TestAuthority};
use std::sync::Arc;

#[test]
fn a_proxy_set_in_code_carries_the_whole_flow() {
    let (proxy, seen) = connect_proxy();
    let clock = ManualClock::new();
    let auth = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .approval(Approval::AfterPolls(2))
        .start()
        .unwrap();
    let display = Seen::default();
    let app = builder(
        &auth,
        Authority::entra_at(&auth.base_url(), "organizations").unwrap(),
        &clock,
        &display,
    )
    .proxy(&proxy)
    .build()
    .unwrap();
    let token = app
        .sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
        .unwrap();
    assert!(token.account().is_some());
    let target = auth.base_url().trim_start_matches("https://").to_string();
    assert_eq!(
        *seen.lock().unwrap(),
        [target],
        "one tunnel for the whole flow"
    );
    assert_eq!(auth.stats().connections, 1);
}
