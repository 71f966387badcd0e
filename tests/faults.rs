//! The fault matrix: every network and server misbehaviour we defend against,
//! injected by the test authority over real loopback HTTPS, during step 1
//! (the device authorization request), during polling, and during a silent
//! refresh. The rows below are the matrix; `tests/fault-matrix.md` is
//! rendered from them (`DEVICECODE_BLESS=1 cargo test --all-features --test
//! faults` rewrites it) and a test fails when the two differ.
//!
//! For each row and phase the outcome is checked: the error kind and whether
//! it is retryable, within a bounded time (HTTP timeouts are 1 s here); after
//! a transient fault the same device code still signs in; and a silent
//! refresh never loses the cached refresh token, whatever the fault.

mod common;

use common::{CLIENT_ID, Seen};
use devicecode::test_authority::{Approval, Certificate, Endpoint, Fault, TestAuthority};
use devicecode::{
    Authority, CancelHandle, Clock, ErrorKind, ManualClock, PublicClient, PublicClientBuilder,
    SystemClock,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a phase must end with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// The call fails with this kind; `true` if it says it is retryable.
    Fails(ErrorKind, bool),
    /// Polling retries past the fault and the same code signs in.
    Recovers,
    /// The odd answer is taken, made safe (a floor or a cap).
    Accepted,
    /// The fault does not exist in this phase (an answer only this phase has).
    NotApplicable,
}

use Expect::{Accepted, Fails, NotApplicable, Recovers};

/// One row: a fault, and the outcome in each phase.
struct Row {
    name: &'static str,
    fault: fn(Phase) -> Fault,
    step1: Expect,
    polling: Expect,
    refresh: Expect,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Step1,
    Polling,
    Refresh,
}

const TRANSPORT: Expect = Fails(ErrorKind::Transport, true);
const INVALID: Expect = Fails(ErrorKind::InvalidResponse, false);

fn status(code: u16, retry_after: Option<&str>, body: &str) -> Fault {
    Fault::Status {
        status: code,
        retry_after: retry_after.map(str::to_string),
        body: body.to_string(),
    }
}

/// A `200` answer with this body for the device endpoint, or for the token
/// endpoint in the other phases.
fn body(phase: Phase, device: &str, token: &str) -> Fault {
    status(
        200,
        None,
        if phase == Phase::Step1 { device } else { token },
    )
}

const DEVICE_OK: &str =
    r#""device_code":"d","user_code":"U","verification_uri":"https://127.0.0.1/devicelogin""#;

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "HTTP 500",
            fault: |_| status(500, None, "oops"),
            step1: TRANSPORT,
            polling: Recovers,
            refresh: TRANSPORT,
        },
        Row {
            name: "HTTP 502 (HTML from a proxy)",
            fault: |_| status(502, None, "<html>Bad Gateway</html>"),
            step1: TRANSPORT,
            polling: Recovers,
            refresh: TRANSPORT,
        },
        Row {
            name: "HTTP 503 with Retry-After seconds",
            fault: |_| status(503, Some("7"), ""),
            step1: TRANSPORT,
            polling: Recovers,
            refresh: TRANSPORT,
        },
        Row {
            name: "HTTP 429 with Retry-After seconds",
            fault: |_| status(429, Some("3"), ""),
            step1: TRANSPORT,
            polling: Recovers,
            refresh: TRANSPORT,
        },
        Row {
            name: "HTTP 429 with Retry-After HTTP-date",
            fault: |_| status(429, Some("Wed, 21 Oct 2026 07:28:00 GMT"), ""),
            step1: TRANSPORT,
            polling: Recovers,
            refresh: TRANSPORT,
        },
        Row {
            name: "connection closed before any answer",
            fault: |_| Fault::Close,
            step1: TRANSPORT,
            polling: Recovers,
            refresh: TRANSPORT,
        },
        Row {
            name: "connection reset mid-body",
            fault: |_| Fault::CutMidBody,
            step1: TRANSPORT,
            polling: Recovers,
            refresh: TRANSPORT,
        },
        Row {
            name: "accepts but never answers",
            fault: |_| Fault::Stall,
            step1: TRANSPORT,
            polling: Recovers,
            refresh: TRANSPORT,
        },
        Row {
            name: "one byte a second (slowloris)",
            fault: |_| Fault::Trickle {
                every: Duration::from_secs(1),
            },
            step1: TRANSPORT,
            polling: Recovers,
            refresh: TRANSPORT,
        },
        Row {
            name: "body larger than the 64 KiB cap",
            fault: |_| status(200, None, &format!("{{\"x\":\"{}\"}}", "a".repeat(70_000))),
            step1: INVALID,
            polling: INVALID,
            refresh: INVALID,
        },
        Row {
            name: "endless chunked body",
            fault: |_| Fault::EndlessChunked,
            step1: INVALID,
            polling: INVALID,
            refresh: INVALID,
        },
        Row {
            name: "captive portal HTML page (HTTP 200)",
            fault: |_| Fault::Html { status: 200 },
            step1: TRANSPORT,
            polling: Recovers,
            refresh: TRANSPORT,
        },
        Row {
            name: "invalid JSON",
            fault: |p| body(p, "{\"device_code\": ", "{\"access_token\": "),
            step1: INVALID,
            polling: INVALID,
            refresh: INVALID,
        },
        Row {
            name: "JSON with wrong types",
            fault: |p| {
                body(
                    p,
                    r#"{"device_code":5,"user_code":"U","verification_uri":"https://x","expires_in":600}"#,
                    r#"{"access_token":["a"],"expires_in":"soon"}"#,
                )
            },
            step1: INVALID,
            polling: INVALID,
            refresh: INVALID,
        },
        Row {
            name: "missing fields",
            fault: |p| {
                body(
                    p,
                    r#"{"user_code":"U","expires_in":600}"#,
                    r#"{"token_type":"Bearer"}"#,
                )
            },
            step1: INVALID,
            polling: INVALID,
            refresh: INVALID,
        },
        Row {
            name: "negative expires_in",
            fault: |p| {
                body(
                    p,
                    &format!("{{{DEVICE_OK},\"expires_in\":-5}}"),
                    r#"{"access_token":"a","expires_in":-5}"#,
                )
            },
            step1: INVALID,
            polling: INVALID,
            refresh: INVALID,
        },
        Row {
            name: "zero expires_in",
            fault: |p| {
                body(
                    p,
                    &format!("{{{DEVICE_OK},\"expires_in\":0}}"),
                    r#"{"access_token":"a","expires_in":0}"#,
                )
            },
            step1: INVALID,
            polling: Accepted,
            refresh: Accepted,
        },
        Row {
            name: "huge expires_in (capped: 24 h for a code, 10 years for a token)",
            fault: |p| {
                body(
                    p,
                    &format!("{{{DEVICE_OK},\"expires_in\":18446744073709551615}}"),
                    r#"{"access_token":"a","expires_in":1e300}"#,
                )
            },
            step1: Accepted,
            polling: Accepted,
            refresh: Accepted,
        },
        Row {
            name: "negative interval",
            fault: |_| {
                status(
                    200,
                    None,
                    &format!("{{{DEVICE_OK},\"expires_in\":600,\"interval\":-1}}"),
                )
            },
            step1: INVALID,
            polling: NotApplicable,
            refresh: NotApplicable,
        },
        Row {
            name: "zero interval (floor: 1 s)",
            fault: |_| {
                status(
                    200,
                    None,
                    &format!("{{{DEVICE_OK},\"expires_in\":600,\"interval\":0}}"),
                )
            },
            step1: Accepted,
            polling: NotApplicable,
            refresh: NotApplicable,
        },
        Row {
            name: "huge interval (cap: 1 h)",
            fault: |_| {
                status(
                    200,
                    None,
                    &format!("{{{DEVICE_OK},\"expires_in\":600,\"interval\":\"99999999999\"}}"),
                )
            },
            step1: Accepted,
            polling: NotApplicable,
            refresh: NotApplicable,
        },
    ]
}

/// A client for the authority with 1 s HTTP timeouts.
fn client(auth: &TestAuthority, clock: impl Clock + 'static) -> PublicClientBuilder {
    PublicClient::builder(CLIENT_ID)
        .authority(Authority::entra_at(&auth.base_url(), "organizations").unwrap())
        .only_root_certificates_pem(auth.ca_pem())
        .clock(clock)
        .display(Seen::default().display())
        .connect_timeout(Duration::from_secs(1))
        .io_timeout(Duration::from_secs(1))
        .no_proxy()
}

fn authority(clock: &ManualClock, approval: Approval) -> TestAuthority {
    TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .approval(approval)
        .start()
        .unwrap()
}

/// Runs one phase with the row's fault and checks the outcome.
fn run(row: &Row, phase: Phase) {
    let expected = match phase {
        Phase::Step1 => row.step1,
        Phase::Polling => row.polling,
        Phase::Refresh => row.refresh,
    };
    if expected == NotApplicable {
        return;
    }
    let clock = ManualClock::new();
    let auth = authority(&clock, Approval::AfterPolls(1));
    let app = client(&auth, clock.clone()).build().unwrap();
    let what = format!("{} during {phase:?}", row.name);
    let started = Instant::now();
    let outcome = match phase {
        Phase::Step1 => {
            auth.inject(Endpoint::DeviceAuthorization, (row.fault)(phase));
            let result = app.start_device_flow(&["User.Read"]).map(|flow| {
                // What was accepted was made safe.
                assert!(flow.interval() >= Duration::from_secs(1), "{what}");
                assert!(flow.interval() <= Duration::from_secs(3600), "{what}");
                assert!(
                    flow.expires_in() <= Duration::from_secs(24 * 3600),
                    "{what}"
                );
            });
            if result.is_err() {
                // The server is back: a new request works.
                app.start_device_flow(&["User.Read"])
                    .unwrap_or_else(|e| panic!("{what}: no recovery: {e}"));
            }
            result
        }
        Phase::Polling => {
            let flow = app.start_device_flow(&["User.Read"]).unwrap();
            auth.inject(Endpoint::Token, (row.fault)(phase));
            app.wait_for_token(&flow, &CancelHandle::new())
                .map(|token| {
                    if expected == Recovers {
                        assert!(token.account().is_some(), "{what}");
                    }
                    let polled: Vec<_> = auth
                        .stats()
                        .polls()
                        .iter()
                        .filter_map(|r| r.param("device_code").map(str::to_string))
                        .collect();
                    assert!(
                        polled.windows(2).all(|w| w[0] == w[1]),
                        "{what}: the same device code throughout"
                    );
                })
        }
        Phase::Refresh => {
            app.sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
                .unwrap();
            clock.advance(Duration::from_secs(3600));
            auth.inject(Endpoint::Token, (row.fault)(phase));
            let result = app.acquire_token_silent(&["User.Read"], None).map(|_| ());
            // Whatever the fault, the refresh token is still there and works.
            app.acquire_token_silent(&["User.Read"], None)
                .unwrap_or_else(|e| panic!("{what}: the refresh token was lost: {e}"));
            result
        }
    };
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "{what}: took {took:?}");
    match (expected, outcome) {
        (Recovers | Accepted, Ok(())) => {}
        (Fails(kind, retryable), Err(e)) => {
            assert_eq!(e.kind(), kind, "{what}: {e}");
            assert_eq!(e.is_retryable(), retryable, "{what}: {e}");
        }
        (expected, outcome) => panic!("{what}: expected {expected:?}, got {outcome:?}"),
    }
}

fn run_phase(phase: Phase) {
    for row in rows() {
        run(&row, phase);
    }
}

#[test]
fn matrix_during_step_1() {
    run_phase(Phase::Step1);
}

#[test]
fn matrix_during_polling() {
    run_phase(Phase::Polling);
}

#[test]
fn matrix_during_silent_refresh() {
    run_phase(Phase::Refresh);
}

/// A server that never answers, for the whole life of the code: the wait
/// ends at the code's deadline (real time here), not later.
#[test]
fn a_silent_server_is_bounded_by_the_code_deadline() {
    let auth = TestAuthority::builder()
        .approval(Approval::Manual)
        .expires_in(3)
        .interval(Some(1))
        .start()
        .unwrap();
    let app = client(&auth, SystemClock).build().unwrap();
    let flow = app.start_device_flow(&["User.Read"]).unwrap();
    for _ in 0..20 {
        auth.inject(Endpoint::Token, Fault::Stall);
    }
    let started = Instant::now();
    let err = app.wait_for_token(&flow, &CancelHandle::new()).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Expired, "{err}");
    assert!(
        took < Duration::from_secs(6),
        "bounded by the 3 s code: {took:?}"
    );
}

/// TLS problems fail closed, in every phase, with a message that says so.
#[test]
fn tls_faults_fail_closed() {
    for (certificate, trust, hint) in [
        (Certificate::WrongHost, true, "not valid for name"),
        (Certificate::Expired, true, "expired or not yet valid"),
        (Certificate::Valid, false, "CA is trusted"),
    ] {
        let clock = ManualClock::new();
        let auth = TestAuthority::builder()
            .clock(Arc::new(clock.clone()))
            .certificate(certificate)
            .start()
            .unwrap();
        let mut builder = PublicClient::builder(CLIENT_ID)
            .authority(Authority::entra_at(&auth.base_url(), "organizations").unwrap())
            .clock(clock)
            .no_proxy();
        if trust {
            builder = builder.only_root_certificates_pem(auth.ca_pem());
        } else {
            // Another authority's CA: a certificate from an unknown issuer.
            let other = TestAuthority::start().unwrap();
            builder = builder.only_root_certificates_pem(other.ca_pem());
        }
        let app = builder.build().unwrap();
        let err = app.start_device_flow(&["User.Read"]).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.kind(), ErrorKind::Transport, "{certificate:?}: {text}");
        assert!(
            !err.is_retryable(),
            "{certificate:?}: a retry cannot fix it"
        );
        assert!(text.contains("TLS"), "{certificate:?}: {text}");
        assert!(text.contains(hint), "{certificate:?}: {text}");
        assert!(auth.stats().requests.is_empty(), "nothing was sent");
    }
}

/// A redirect on the token endpoint is never followed, in polling and in
/// a refresh (where it must not cost the refresh token either).
#[test]
fn redirects_on_the_token_endpoint_are_not_followed() {
    let clock = ManualClock::new();
    let auth = authority(&clock, Approval::AfterPolls(1));
    let app = client(&auth, clock.clone()).build().unwrap();
    app.sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
        .unwrap();
    clock.advance(Duration::from_secs(3600));
    let requests = auth.stats().requests.len();
    auth.inject(Endpoint::Token, status(302, None, ""));
    let err = app.acquire_token_silent(&["User.Read"], None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert!(err.to_string().contains("redirect"), "{err}");
    assert_eq!(auth.stats().requests.len(), requests + 1, "not followed");
    app.acquire_token_silent(&["User.Read"], None).unwrap();
}

/// The matrix in tests/fault-matrix.md is rendered from `rows()`.
#[test]
fn the_matrix_document_is_current() {
    let show = |e: Expect| match e {
        Recovers => "retried; the same code signs in".to_string(),
        Accepted => "accepted, made safe".to_string(),
        NotApplicable => "—".to_string(),
        Fails(kind, true) => format!("`{kind:?}`, retryable"),
        Fails(kind, false) => format!("`{kind:?}`, final"),
    };
    let mut doc = String::from(
        "# Fault matrix\n\n\
         Generated from `tests/faults.rs` (`DEVICECODE_BLESS=1 cargo test --all-features --test faults`).\n\
         Every cell is checked end to end over loopback HTTPS against the test authority, with 1 s HTTP\n\
         timeouts, by `matrix_during_step_1`, `matrix_during_polling` and `matrix_during_silent_refresh`.\n\
         In every refresh row the cached refresh token survives and works afterwards; after every\n\
         step 1 failure a new request succeeds.\n\n\
         | fault | step 1 (device authorization) | polling | silent refresh |\n\
         |---|---|---|---|\n",
    );
    for row in rows() {
        doc.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            row.name,
            show(row.step1),
            show(row.polling),
            show(row.refresh)
        ));
    }
    doc.push_str(
        "| TLS: wrong host name, expired certificate, unknown CA | `Transport`, final, says TLS (and the clock for dates) | same | same |\n\
         | redirect on the token endpoint | — | `InvalidResponse`, final, not followed | `InvalidResponse`, final, not followed |\n\
         | a server silent for the whole code lifetime | — | `Expired` at the code's deadline | — |\n\n\
         Also tested there: `tls_faults_fail_closed`, `redirects_on_the_token_endpoint_are_not_followed`,\n\
         `a_silent_server_is_bounded_by_the_code_deadline`.\n",
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fault-matrix.md");
    if std::env::var_os("DEVICECODE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &doc).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        committed, doc,
        "tests/fault-matrix.md is stale: rerun with DEVICECODE_BLESS=1"
    );
}
