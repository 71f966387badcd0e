//! End to end against the test authority speaking as Entra ID, over HTTPS on
//! loopback, with a shared fast-forwarding clock.

use crate::common::*;
use devicecode::{
    Authority, CancelHandle, Clock, ErrorKind, ManualClock, PublicClient, SystemClock,
};
use devicecode_test_authority::{Approval, Endpoint, Fault, TestAuthority};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn authority(approval: Approval, clock: &ManualClock) -> TestAuthority {
    TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .approval(approval)
        .start()
        .unwrap()
}

#[test]
fn signs_in_over_one_connection_with_rfc_poll_gaps() {
    let clock = ManualClock::new();
    let auth = authority(Approval::AfterPolls(3), &clock);
    let seen = Seen::default();
    let app = entra_client(&auth, &clock, &seen);
    let real_start = Instant::now();

    let flow = app.start_device_flow(&["User.Read"]).unwrap();
    assert_eq!(flow.user_code().len(), 9);
    assert!(flow.message_from_server());
    assert!(flow.message().contains(flow.user_code()));
    assert_eq!(flow.interval(), Duration::from_secs(5));
    assert_eq!(flow.expires_in(), Duration::from_secs(900));
    app.display(&flow).unwrap();
    let token = app.wait_for_token(&flow, &CancelHandle::new()).unwrap();

    let account = token.account().expect("an account from the id_token");
    assert_eq!(account.username(), "device.user@contoso.example");
    assert_eq!(account.name(), Some("Device User"));
    let (oid, tid) = (account.oid().unwrap(), account.tenant_id().unwrap());
    assert_eq!(account.home_account_id(), format!("{oid}.{tid}"));
    assert_eq!(account.environment(), "127.0.0.1");
    assert!(token.refresh_token().is_some() && token.id_token().is_some());
    assert!(token.scopes().iter().any(|s| s == "User.Read"));
    let left = token.expires_at().duration_since(clock.wall()).unwrap();
    assert!(
        left > Duration::from_secs(3500) && left <= Duration::from_secs(3599),
        "{left:?}"
    );

    let stats = auth.stats();
    assert_eq!(
        stats.connections, 1,
        "one TCP connection for the whole flow"
    );
    assert_eq!(
        stats.tls_handshakes, 1,
        "one TLS handshake for the whole flow"
    );
    assert_eq!(
        stats.requests[0].endpoint,
        Some(Endpoint::DeviceAuthorization),
        "no request before the code"
    );
    assert_eq!(
        poll_gaps(&stats),
        [5, 5, 5],
        "first poll waits one interval, then one interval apart"
    );
    let code_request = &stats.requests[0];
    let scopes: Vec<&str> = form(code_request, "scope").unwrap().split(' ').collect();
    for scope in ["User.Read", "openid", "profile", "offline_access"] {
        assert!(scopes.contains(&scope), "{scopes:?}");
    }
    for poll in stats.polls() {
        assert_eq!(
            form(poll, "grant_type"),
            Some("urn:ietf:params:oauth:grant-type:device_code")
        );
        assert_eq!(form(poll, "client_id"), Some(CLIENT_ID));
        assert_eq!(form(poll, "client_info"), Some("1"));
        assert!(form(poll, "device_code").is_some_and(|c| !c.is_empty()));
        let ua = poll
            .headers
            .iter()
            .find(|(k, _)| k == "user-agent")
            .map(|(_, v)| v.as_str());
        assert!(ua.unwrap_or("").starts_with("devicecode/"), "{ua:?}");
        let accept = poll
            .headers
            .iter()
            .find(|(k, _)| k == "accept")
            .map(|(_, v)| v.as_str());
        assert_eq!(accept, Some("application/json"));
    }
    let events = seen.events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events[0].starts_with(&format!("show {}", flow.user_code())));
    assert_eq!(events[1], "signed in device.user@contoso.example");
    assert!(
        real_start.elapsed() < Duration::from_secs(10),
        "no real sleeping"
    );
}

#[test]
fn slow_down_adds_five_seconds_for_the_rest_of_the_flow() {
    let clock = ManualClock::new();
    let auth = authority(Approval::AfterPolls(5), &clock);
    auth.inject(
        Endpoint::Token,
        Fault::OAuthError {
            status: 400,
            error: "slow_down".into(),
            aadsts: None,
            description: "Slow down.".into(),
        },
    );
    let seen = Seen::default();
    let app = entra_client(&auth, &clock, &seen);
    let flow = app.start_device_flow(&[]).unwrap();
    app.wait_for_token(&flow, &CancelHandle::new()).unwrap();
    let stats = auth.stats();
    // poll 1 is answered slow_down; every gap after it is 10 s.
    assert_eq!(poll_gaps(&stats), [5, 10, 10, 10, 10, 10]);
    let enforced = stats
        .requests
        .iter()
        .filter(|r| r.answer == "slow_down")
        .count();
    assert_eq!(
        enforced, 0,
        "the server never had to enforce the interval itself"
    );
}

#[test]
fn declined_stops_at_once() {
    let clock = ManualClock::new();
    let auth = authority(Approval::DenyAfterPolls(2), &clock);
    let seen = Seen::default();
    let app = entra_client(&auth, &clock, &seen);
    let flow = app.start_device_flow(&["User.Read"]).unwrap();
    let err = app.wait_for_token(&flow, &CancelHandle::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Declined, "{err}");
    assert_eq!(err.service_error().unwrap().error, "authorization_declined");
    assert_eq!(auth.stats().polls().len(), 2, "no poll after the decline");
    assert_eq!(seen.events().last().unwrap(), "failed Declined");
}

#[test]
fn a_code_nobody_enters_expires_after_fifteen_minutes_in_milliseconds() {
    let clock = ManualClock::new();
    let auth = authority(Approval::Manual, &clock);
    let seen = Seen::default();
    let app = entra_client(&auth, &clock, &seen);
    let real_start = Instant::now();
    let flow = app.start_device_flow(&[]).unwrap();
    let err = app.wait_for_token(&flow, &CancelHandle::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Expired, "{err}");
    let stats = auth.stats();
    let polls = stats.polls();
    assert!((178..=181).contains(&polls.len()), "{} polls", polls.len());
    // The last-chance poll, a second before the deadline, comes sooner than
    // the interval: this strict authority says slow_down to it.
    let (last, before) = polls.split_last().unwrap();
    assert!(before.iter().all(|p| p.answer == "authorization_pending"));
    assert!(["authorization_pending", "slow_down"].contains(&last.answer.as_str()));
    assert!(
        clock.elapsed() >= Duration::from_secs(900) && clock.elapsed() < Duration::from_secs(906)
    );
    assert!(real_start.elapsed() < Duration::from_secs(20));
    assert_eq!(stats.connections, 1);
}

#[test]
fn the_display_hears_the_time_left_for_a_countdown() {
    // A display with a countdown asks to hear the time left every second
    // (FnDisplay::on_waiting does); it hears every second of the wait.
    let clock = ManualClock::new();
    let auth = authority(Approval::AfterPolls(3), &clock);
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&heard);
    let app = PublicClient::builder(CLIENT_ID)
        .authority(Authority::entra_at(&auth.base_url(), "organizations").unwrap())
        .only_root_certificates_pem(auth.ca_pem())
        .clock(clock.clone())
        .display(
            devicecode::FnDisplay::new(|_| Ok(()))
                .on_waiting(move |left| log.lock().unwrap().push(left.as_secs())),
        )
        .no_proxy()
        .build()
        .unwrap();
    app.sign_in_with_device_code(&[], &CancelHandle::new())
        .unwrap();
    let heard = heard.lock().unwrap().clone();
    // Three polls 5 s apart: 15 s of waiting, every second of it heard.
    assert!(
        heard.windows(2).all(|w| w[1] <= w[0]),
        "counts down: {heard:?}"
    );
    let mut seconds = heard.clone();
    seconds.dedup();
    assert_eq!(seconds, (885..=900).rev().collect::<Vec<u64>>());
    assert_eq!(auth.stats().polls().len(), 3);
}

#[test]
fn a_wall_clock_jump_neither_shortens_nor_lengthens_the_wait() {
    for jump in [-40 * 365 * 86_400_i64, 5 * 365 * 86_400] {
        let clock = ManualClock::new();
        let auth = authority(Approval::Manual, &clock);
        let seen = Seen::default();
        let jumper = clock.clone();
        let app = builder(
            &auth,
            Authority::entra_at(&auth.base_url(), "organizations").unwrap(),
            &clock,
            &seen,
        )
        .display(devicecode::FnDisplay::new(move |_| {
            jumper.jump_wall_clock(jump);
            Ok(())
        }))
        .build()
        .unwrap();
        let flow = app.start_device_flow(&[]).unwrap();
        app.display(&flow).unwrap();
        let err = app.wait_for_token(&flow, &CancelHandle::new()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Expired);
        let waited = clock.elapsed();
        assert!(
            waited >= Duration::from_secs(900) && waited < Duration::from_secs(906),
            "{jump}: {waited:?}"
        );
    }
}

#[test]
fn transport_failures_are_retried_with_backoff_and_the_code_survives() {
    let clock = ManualClock::new();
    let auth = authority(Approval::AfterPolls(3), &clock);
    auth.inject(
        Endpoint::Token,
        Fault::Status {
            status: 503,
            retry_after: Some("20".into()),
            body: "busy".into(),
        },
    );
    auth.inject(Endpoint::Token, Fault::Close);
    auth.inject(Endpoint::Token, Fault::Html { status: 200 });
    auth.inject(
        Endpoint::Token,
        Fault::Status {
            status: 429,
            retry_after: None,
            body: String::new(),
        },
    );
    let seen = Seen::default();
    let app = entra_client(&auth, &clock, &seen);
    let flow = app.start_device_flow(&[]).unwrap();
    let token = app.wait_for_token(&flow, &CancelHandle::new()).unwrap();
    assert!(token.account().is_some());
    let stats = auth.stats();
    let gaps = poll_gaps(&stats);
    assert_eq!(gaps.len(), 7, "4 failed polls, then 3 real ones: {gaps:?}");
    assert!(gaps[1] >= 20, "Retry-After: 20 honoured: {gaps:?}");
    // Backoff grows: 5 s doubled per failure, ±20 % jitter, never below 5 s.
    assert!(gaps[2] >= 8 && gaps[3] >= 16 && gaps[4] >= 32, "{gaps:?}");
    assert!(stats.connections >= 2, "the closed connection was replaced");
}

#[test]
fn cancel_from_another_thread_stops_the_wait_at_once() {
    let auth = TestAuthority::builder()
        .approval(Approval::Manual)
        .start()
        .unwrap();
    let app = PublicClient::builder(CLIENT_ID)
        .authority(Authority::entra_at(&auth.base_url(), "organizations").unwrap())
        .only_root_certificates_pem(auth.ca_pem())
        .clock(SystemClock)
        .display(devicecode::FnDisplay::new(|_| Ok(())))
        .build()
        .unwrap();
    let flow = app.start_device_flow(&[]).unwrap();
    let cancel = CancelHandle::new();
    let remote = cancel.clone();
    let cancelled_at = Arc::new(std::sync::Mutex::new(None));
    let stamp = Arc::clone(&cancelled_at);
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        *stamp.lock().unwrap() = Some(Instant::now());
        remote.cancel();
    });
    let err = app.wait_for_token(&flow, &cancel).unwrap_err();
    let returned = Instant::now();
    thread.join().unwrap();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    let lag = returned - cancelled_at.lock().unwrap().unwrap();
    // The wait wakes on the cancel itself (a few ms here; benches/RESULTS.md
    // has the number): the bound is loose enough for qemu on a busy machine.
    eprintln!("cancel noticed after {lag:?}");
    assert!(lag < Duration::from_secs(1), "{lag:?}");
    assert_eq!(auth.stats().polls().len(), 0);
}

#[test]
fn the_callers_own_limit() {
    let clock = ManualClock::new();
    let auth = authority(Approval::Manual, &clock);
    let seen = Seen::default();
    let app = entra_client(&auth, &clock, &seen);
    let flow = app.start_device_flow(&[]).unwrap();
    let start = clock.now();
    let err = app
        .wait_for_token_with_timeout(&flow, &CancelHandle::new(), Duration::from_secs(60))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(clock.now() - start, Duration::from_secs(60));
}

#[test]
fn aadsts_errors_come_with_advice_and_trace_ids() {
    let clock = ManualClock::new();
    let auth = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .tenants(vec!["contoso.example".into()])
        .client_ids(vec![CLIENT_ID.into()])
        .start()
        .unwrap();
    let seen = Seen::default();

    let wrong_tenant = builder(
        &auth,
        Authority::entra_at(&auth.base_url(), "contoso.exmaple").unwrap(),
        &clock,
        &seen,
    )
    .build()
    .unwrap();
    let err = wrong_tenant.start_device_flow(&[]).unwrap_err();
    assert_eq!(
        (err.kind(), err.aadsts()),
        (ErrorKind::Service, Some(90002)),
        "{err}"
    );
    assert!(err.to_string().contains("tenant was not found"), "{err}");

    let wrong_app = PublicClient::builder("99999999-2222-3333-4444-555555555555")
        .authority(Authority::entra_at(&auth.base_url(), "contoso.example").unwrap())
        .only_root_certificates_pem(auth.ca_pem())
        .clock(clock.clone())
        .build()
        .unwrap();
    let err = wrong_app.start_device_flow(&[]).unwrap_err();
    assert_eq!(err.aadsts(), Some(700016), "{err}");

    auth.inject(Endpoint::Token, Fault::OAuthError {
        status: 401,
        error: "invalid_client".into(),
        aadsts: Some(7000218),
        description: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
    });
    let app = builder(
        &auth,
        Authority::entra_at(&auth.base_url(), "contoso.example").unwrap(),
        &clock,
        &seen,
    )
    .build()
    .unwrap();
    let flow = app.start_device_flow(&[]).unwrap();
    let err = app.wait_for_token(&flow, &CancelHandle::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Service);
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(
        text.contains("AADSTS7000218") && text.contains("Allow public client flows"),
        "{text}"
    );
    assert!(!text.contains("Trace ID"), "{text}");
    let service = err.service_error().unwrap();
    assert_eq!(service.status, 401);
    assert!(
        service.trace_id.is_some()
            && service.correlation_id.is_some()
            && service.error_uri.is_some()
    );
    assert_eq!(
        auth.stats().polls().len(),
        1,
        "a final error is not retried"
    );
}

#[test]
fn untrusted_certificates_fail_closed_with_advice() {
    let auth = TestAuthority::start().unwrap();
    let app = PublicClient::builder(CLIENT_ID)
        .authority(Authority::entra_at(&auth.base_url(), "organizations").unwrap())
        .build()
        .unwrap();
    let err = app.start_device_flow(&[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("clock"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn clear_text_http_is_fine_on_loopback() {
    let clock = ManualClock::new();
    let auth = TestAuthority::builder()
        .plain_http(true)
        .clock(Arc::new(clock.clone()))
        .approval(Approval::AfterPolls(1))
        .start()
        .unwrap();
    assert!(auth.base_url().starts_with("http://127.0.0.1:"));
    let app = PublicClient::builder(CLIENT_ID)
        .authority(Authority::entra_at(&auth.base_url(), "organizations").unwrap())
        .clock(clock)
        .display(devicecode::FnDisplay::new(|_| Ok(())))
        .build()
        .unwrap();
    let token = app
        .sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
        .unwrap();
    assert!(token.account().is_some());
}

#[test]
fn redirects_are_not_followed() {
    let clock = ManualClock::new();
    let auth = authority(Approval::AfterPolls(1), &clock);
    auth.inject(
        Endpoint::Token,
        Fault::Status {
            status: 307,
            retry_after: None,
            body: String::new(),
        },
    );
    let seen = Seen::default();
    let app = entra_client(&auth, &clock, &seen);
    let flow = app.start_device_flow(&[]).unwrap();
    let err = app.wait_for_token(&flow, &CancelHandle::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("redirect"), "{err}");
    assert_eq!(auth.stats().requests.len(), 2);
}

#[test]
fn a_person_who_approves_in_the_last_interval_is_signed_in() {
    let clock = ManualClock::new();
    // Entra does not slow a late poll down; this authority is told not to.
    let auth = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .expires_in(20)
        .interval(Some(5))
        .enforce_interval(false)
        .approval(Approval::After(Duration::from_secs(17)))
        .start()
        .unwrap();
    let seen = Seen::default();
    let app = entra_client(&auth, &clock, &seen);
    let flow = app.start_device_flow(&["User.Read"]).unwrap();
    let token = app.wait_for_token(&flow, &CancelHandle::new()).unwrap();
    assert!(token.account().is_some());
    let stats = auth.stats();
    let times: Vec<u64> = poll_times(&stats).iter().map(|t| t.as_secs()).collect();
    assert_eq!(times, [5, 10, 15, 19], "a last poll a second before expiry");
    assert_eq!(stats.polls().last().unwrap().answer, "token");

    // Nobody approves: the last chance is taken, then the wait ends at the
    // deadline, with no poll after it.
    let auth = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .expires_in(20)
        .enforce_interval(false)
        .start()
        .unwrap();
    let app = entra_client(&auth, &clock, &seen);
    let flow = app.start_device_flow(&["User.Read"]).unwrap();
    let err = app.wait_for_token(&flow, &CancelHandle::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Expired);
    let times: Vec<u64> = poll_times(&auth.stats())
        .iter()
        .map(|t| t.as_secs())
        .collect();
    assert_eq!(times, [5, 10, 15, 19]);
}

#[test]
fn the_servers_expired_token_ends_the_wait_at_once() {
    let clock = ManualClock::new();
    let auth = authority(Approval::Manual, &clock);
    let seen = Seen::default();
    let app = entra_client(&auth, &clock, &seen);
    let flow = app.start_device_flow(&["User.Read"]).unwrap();
    auth.inject(
        Endpoint::Token,
        Fault::OAuthError {
            status: 400,
            error: "expired_token".into(),
            aadsts: Some(70019),
            description: "Verification code expired.".into(),
        },
    );
    let err = app.wait_for_token(&flow, &CancelHandle::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Expired);
    assert_eq!(auth.stats().polls().len(), 1);
    assert!(clock.elapsed() < Duration::from_secs(6));
}

/// Real time: the pool ages connections by the real clock. One poll after a
/// 20 s interval, longer than the 15 s a pooled connection used to live.
#[test]
fn one_connection_at_a_long_interval() {
    let auth = TestAuthority::builder()
        .interval(Some(20))
        .approval(Approval::AfterPolls(1))
        .start()
        .unwrap();
    let authority = Authority::entra_at(&auth.base_url(), "organizations").unwrap();
    let seen = Seen::default();
    let app = PublicClient::builder(CLIENT_ID)
        .authority(authority)
        .only_root_certificates_pem(auth.ca_pem())
        .display(seen.display())
        .no_proxy()
        .build()
        .unwrap();
    let flow = app.start_device_flow(&["User.Read"]).unwrap();
    app.wait_for_token(&flow, &CancelHandle::new()).unwrap();
    let stats = auth.stats();
    assert_eq!(stats.polls().len(), 1);
    assert_eq!(
        stats.connections, 1,
        "the code request's connection was reused"
    );
    assert_eq!(stats.tls_handshakes, 1);
}
