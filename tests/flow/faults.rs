//! The fault matrix: every network and server misbehaviour we defend against,
//! injected by the test authority over real loopback HTTPS, during step 1
//! (the device authorization request), during polling, and during a silent
//! refresh.
//!
//! One test per row, named after the row (`matrix!` below), so a failure
//! names the fault and the rows run in parallel. Each row test runs every
//! phase the fault exists in and checks: the error kind, whether it is
//! retryable and what the message says, within a bounded time (I/O timeouts
//! are 1 s here, time otherwise runs on a `ManualClock`); after a transient
//! fault while polling, the same device code still signs in; after a failed
//! step 1, a new request works; after a failed refresh, the cached refresh
//! token is still there and works.
//!
//! `tests/fault-matrix.md` is rendered from the rows and from the list of the
//! other tests here (`DEVICECODE_BLESS=1 cargo test --test
//! flow faults` rewrites it); `the_matrix_document_is_current` fails when it is
//! stale, or when a test of this file is missing from it.

use crate::common::{CLIENT_ID, Seen, poll_times};
use devicecode::{
    Authority, CancelHandle, Clock, Error, ErrorKind, ManualClock, PublicClient,
    PublicClientBuilder, SystemClock,
};
use devicecode_test_authority::{Approval, Certificate, Endpoint, Fault, TestAuthority};
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
    /// The fault does not exist in this phase (an answer only another phase
    /// has).
    NotApplicable,
}

use Expect::{Accepted, Fails, NotApplicable, Recovers};

const TRANSPORT: Expect = Fails(ErrorKind::Transport, true);
const INVALID: Expect = Fails(ErrorKind::InvalidResponse, false);
/// TLS failures: a retry cannot fix a certificate.
const TLS: Expect = Fails(ErrorKind::Transport, false);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Step1,
    Polling,
    Refresh,
}

/// How a row's fault is set up on the endpoint of the phase.
#[derive(Clone, Copy)]
enum Inject {
    /// The next request gets it.
    Once(fn(Phase) -> Fault),
    /// The next request and every n-th after it (a deterministic fraction).
    Every(u32, fn(Phase) -> Fault),
    /// Presented from the next connection on (the authority then opens one
    /// connection per request); healed by presenting the valid one again.
    Certificate(Certificate),
}

/// One row: a fault, and the outcome in each phase.
struct Row {
    test: &'static str,
    name: &'static str,
    inject: Inject,
    /// What the error message must say, when the phase fails.
    says: &'static [&'static str],
    step1: Expect,
    polling: Expect,
    refresh: Expect,
}

impl Row {
    fn expect(&self, phase: Phase) -> Expect {
        match phase {
            Phase::Step1 => self.step1,
            Phase::Polling => self.polling,
            Phase::Refresh => self.refresh,
        }
    }
}

/// Declares the rows, and one `#[test]` per row named after it.
macro_rules! matrix {
    ($(
        $test:ident: $name:literal, $inject:expr, says: $says:expr,
            step_1: $step1:expr, polling: $polling:expr, refresh: $refresh:expr;
    )*) => {
        fn rows() -> Vec<Row> {
            vec![$(Row {
                test: stringify!($test),
                name: $name,
                inject: $inject,
                says: $says,
                step1: $step1,
                polling: $polling,
                refresh: $refresh,
            }),*]
        }

        $(
            #[test]
            fn $test() {
                check_row(stringify!($test));
            }
        )*
    };
}

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

matrix! {
    http_500_on_every_2nd_request: "HTTP 500 on every 2nd request",
        Inject::Every(2, |_| status(500, None, "oops")), says: &["HTTP 500"],
        step_1: TRANSPORT, polling: Recovers, refresh: TRANSPORT;
    http_502_html_on_every_3rd_request: "HTTP 502 (an HTML page from a proxy) on every 3rd request",
        Inject::Every(3, |_| status(502, None, "<html>Bad Gateway</html>")), says: &["HTTP 502"],
        step_1: TRANSPORT, polling: Recovers, refresh: TRANSPORT;
    http_503_retry_after_on_every_2nd_request: "HTTP 503 with Retry-After seconds on every 2nd request",
        Inject::Every(2, |_| status(503, Some("7"), "")), says: &["HTTP 503"],
        step_1: TRANSPORT, polling: Recovers, refresh: TRANSPORT;
    http_429_retry_after_seconds: "HTTP 429 with Retry-After seconds",
        Inject::Once(|_| status(429, Some("3"), "")), says: &["HTTP 429"],
        step_1: TRANSPORT, polling: Recovers, refresh: TRANSPORT;
    http_429_retry_after_http_date: "HTTP 429 with Retry-After HTTP-date",
        Inject::Once(|_| status(429, Some("Wed, 21 Oct 2026 07:28:00 GMT"), "")), says: &["HTTP 429"],
        step_1: TRANSPORT, polling: Recovers, refresh: TRANSPORT;
    connection_closed_before_any_answer: "connection closed before any answer",
        Inject::Once(|_| Fault::Close), says: &[],
        step_1: TRANSPORT, polling: Recovers, refresh: TRANSPORT;
    connection_reset_mid_body: "connection reset mid-body",
        Inject::Once(|_| Fault::CutMidBody), says: &[],
        step_1: TRANSPORT, polling: Recovers, refresh: TRANSPORT;
    accepts_but_never_answers: "accepts but never answers",
        Inject::Once(|_| Fault::Stall), says: &["timed out"],
        step_1: TRANSPORT, polling: Recovers, refresh: TRANSPORT;
    one_byte_a_second_slowloris: "one byte a second (slowloris)",
        Inject::Once(|_| Fault::Trickle { every: Duration::from_secs(1) }), says: &["timed out"],
        step_1: TRANSPORT, polling: Recovers, refresh: TRANSPORT;
    body_over_the_64_kib_cap: "body larger than the 64 KiB cap",
        Inject::Once(|_| status(200, None, &format!("{{\"x\":\"{}\"}}", "a".repeat(70_000)))),
        says: &["larger than 65536 bytes"],
        step_1: INVALID, polling: INVALID, refresh: INVALID;
    endless_chunked_body: "endless chunked body",
        Inject::Once(|_| Fault::EndlessChunked), says: &["larger than 65536 bytes"],
        step_1: INVALID, polling: INVALID, refresh: INVALID;
    captive_portal_html_page: "captive portal HTML page (HTTP 200, text/html)",
        Inject::Once(|_| Fault::Html { status: 200 }), says: &["captive portal"],
        step_1: TRANSPORT, polling: Recovers, refresh: TRANSPORT;
    invalid_json: "invalid JSON",
        Inject::Once(|p| body(p, "{\"device_code\": ", "{\"access_token\": ")),
        says: &["not valid JSON"],
        step_1: INVALID, polling: INVALID, refresh: INVALID;
    json_with_wrong_types: "JSON with wrong types",
        Inject::Once(|p| body(
            p,
            r#"{"device_code":5,"user_code":"U","verification_uri":"https://x","expires_in":600}"#,
            r#"{"access_token":["a"],"expires_in":"soon"}"#,
        )),
        says: &["that is not"],
        step_1: INVALID, polling: INVALID, refresh: INVALID;
    missing_fields: "missing fields",
        Inject::Once(|p| body(p, r#"{"user_code":"U","expires_in":600}"#, r#"{"token_type":"Bearer"}"#)),
        says: &["has no"],
        step_1: INVALID, polling: INVALID, refresh: INVALID;
    negative_expires_in: "negative expires_in",
        Inject::Once(|p| body(
            p,
            &format!("{{{DEVICE_OK},\"expires_in\":-5}}"),
            r#"{"access_token":"a","expires_in":-5}"#,
        )),
        says: &["expires_in"],
        step_1: INVALID, polling: INVALID, refresh: INVALID;
    zero_expires_in: "zero expires_in (a code that is dead on arrival is refused)",
        Inject::Once(|p| body(
            p,
            &format!("{{{DEVICE_OK},\"expires_in\":0}}"),
            r#"{"access_token":"a","expires_in":0}"#,
        )),
        says: &["0 seconds"],
        step_1: INVALID, polling: Accepted, refresh: Accepted;
    huge_expires_in: "huge expires_in (capped: 24 h for a code, 10 years for a token)",
        Inject::Once(|p| body(
            p,
            &format!("{{{DEVICE_OK},\"expires_in\":18446744073709551615}}"),
            r#"{"access_token":"a","expires_in":1e300}"#,
        )),
        says: &[],
        step_1: Accepted, polling: Accepted, refresh: Accepted;
    negative_interval: "negative interval",
        Inject::Once(|_| status(200, None, &format!("{{{DEVICE_OK},\"expires_in\":600,\"interval\":-1}}"))),
        says: &["interval"],
        step_1: INVALID, polling: NotApplicable, refresh: NotApplicable;
    zero_interval: "zero interval (floor: 1 s)",
        Inject::Once(|_| status(200, None, &format!("{{{DEVICE_OK},\"expires_in\":600,\"interval\":0}}"))),
        says: &[],
        step_1: Accepted, polling: NotApplicable, refresh: NotApplicable;
    huge_interval: "huge interval (cap: 1 h)",
        Inject::Once(|_| status(
            200,
            None,
            &format!("{{{DEVICE_OK},\"expires_in\":600,\"interval\":\"99999999999\"}}"),
        )),
        says: &[],
        step_1: Accepted, polling: NotApplicable, refresh: NotApplicable;
    redirect: "redirect (HTTP 307 elsewhere)",
        Inject::Once(|_| Fault::Redirect { status: 307, location: "https://elsewhere.example/x".into() }),
        says: &["redirect", "not followed", "https://elsewhere.example/x"],
        step_1: INVALID, polling: INVALID, refresh: INVALID;
    tls_wrong_host_name: "TLS: certificate for another host name",
        Inject::Certificate(Certificate::WrongHost), says: &["TLS", "not valid for name"],
        step_1: TLS, polling: TLS, refresh: TLS;
    tls_expired_certificate: "TLS: expired certificate",
        Inject::Certificate(Certificate::Expired),
        says: &["TLS", "expired or not yet valid", "this device's clock reads 20", "set the clock"],
        step_1: TLS, polling: TLS, refresh: TLS;
    tls_not_yet_valid_certificate: "TLS: certificate not valid yet",
        Inject::Certificate(Certificate::NotYetValid),
        says: &["TLS", "expired or not yet valid", "this device's clock reads 20", "set the clock"],
        step_1: TLS, polling: TLS, refresh: TLS;
    tls_unknown_ca: "TLS: certificate from an unknown CA",
        Inject::Certificate(Certificate::UntrustedIssuer), says: &["TLS", "CA is trusted"],
        step_1: TLS, polling: TLS, refresh: TLS;
}

/// The tests of this file that are not rows, for the document.
const OTHER_TESTS: &[(&str, &str)] = &[
    (
        "retry_after_seconds_is_honoured_while_polling",
        "the poll after a 503 with `Retry-After: 20` waits 20 s, not the 5 s interval",
    ),
    (
        "retry_after_http_date_is_honoured_while_polling",
        "the same with an HTTP-date 40 s ahead of the device's clock",
    ),
    (
        "a_silent_server_is_bounded_by_the_code_deadline",
        "a token endpoint that never answers: `Expired` at the code's deadline (3 s, real time), not later",
    ),
    (
        "a_slowloris_server_is_bounded_by_the_code_deadline",
        "the same with one byte a second",
    ),
    (
        "redirects_are_not_followed_even_to_the_real_endpoint",
        "a 307 to the genuine token endpoint is not followed while polling nor refreshing (one request each), and the refresh token survives",
    ),
    (
        "the_matrix_document_is_current",
        "this document matches the rows, and names every test of the file",
    ),
];

/// How long one phase may take: HTTP timeouts are 1 s, and at most a few
/// requests can meet a fault.
const PHASE_LIMIT: Duration = Duration::from_secs(8);

/// A client for the authority with 1 s I/O timeouts. Connecting (TCP and
/// TLS) gets 5 s: no fault here needs a short one, and a TLS handshake under
/// qemu on a busy machine can take more than a second.
fn client(auth: &TestAuthority, clock: impl Clock + 'static) -> PublicClientBuilder {
    PublicClient::builder(CLIENT_ID)
        .authority(Authority::entra_at(&auth.base_url(), "organizations").unwrap())
        .only_root_certificates_pem(auth.ca_pem())
        .clock(clock)
        .display(Seen::default().display())
        .connect_timeout(Duration::from_secs(5))
        .io_timeout(Duration::from_secs(1))
        .no_proxy()
}

fn authority(clock: &ManualClock, row: &Row) -> TestAuthority {
    TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        // Several good polls, so lasting faults hit more than once.
        .approval(Approval::AfterPolls(3))
        // A certificate change shows at the next request.
        .keep_alive(!matches!(row.inject, Inject::Certificate(_)))
        .start()
        .unwrap()
}

fn inject(auth: &TestAuthority, row: &Row, at: Endpoint, phase: Phase) {
    match row.inject {
        Inject::Once(fault) => auth.inject(at, fault(phase)),
        Inject::Every(n, fault) => auth.inject_every(at, n, fault(phase)),
        Inject::Certificate(certificate) => auth.present_certificate(certificate),
    }
}

/// Takes a fault that does not pass by itself away again.
fn heal(auth: &TestAuthority, row: &Row) {
    if let Inject::Certificate(_) = row.inject {
        auth.present_certificate(Certificate::Valid);
    }
}

fn check_row(test: &str) {
    let row = rows()
        .into_iter()
        .find(|r| r.test == test)
        .unwrap_or_else(|| panic!("no row {test}"));
    for phase in [Phase::Step1, Phase::Polling, Phase::Refresh] {
        if row.expect(phase) != NotApplicable {
            run(&row, phase);
        }
    }
}

/// Runs one phase with the row's fault and checks the outcome.
fn run(row: &Row, phase: Phase) {
    let expected = row.expect(phase);
    let clock = ManualClock::new();
    let auth = authority(&clock, row);
    let app = client(&auth, clock.clone()).build().unwrap();
    let what = format!("{} during {phase:?}", row.name);
    let started = Instant::now();
    let outcome: Result<(), Error> = match phase {
        Phase::Step1 => {
            inject(&auth, row, Endpoint::DeviceAuthorization, phase);
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
                // The server is back (a fraction of requests fail, or the
                // certificate is mended): a new request works.
                heal(&auth, row);
                app.start_device_flow(&["User.Read"])
                    .unwrap_or_else(|e| panic!("{what}: no recovery: {e}"));
            }
            result
        }
        Phase::Polling => {
            let flow = app.start_device_flow(&["User.Read"]).unwrap();
            inject(&auth, row, Endpoint::Token, phase);
            let result = app.wait_for_token(&flow, &CancelHandle::new());
            let stats = auth.stats();
            let codes: Vec<_> = stats
                .polls()
                .iter()
                .filter_map(|r| r.param("device_code").map(str::to_string))
                .collect();
            assert!(
                codes.windows(2).all(|w| w[0] == w[1]),
                "{what}: the same device code throughout"
            );
            if expected == Recovers {
                let faults = stats.polls().iter().filter(|r| r.answer == "fault").count();
                let least = if let Inject::Every(..) = row.inject {
                    2
                } else {
                    1
                };
                assert!(faults >= least, "{what}: {faults} polls met the fault");
                if let Ok(token) = &result {
                    assert!(token.account().is_some(), "{what}");
                }
            }
            result.map(|_| ())
        }
        Phase::Refresh => {
            app.sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
                .unwrap();
            clock.advance(Duration::from_secs(3600));
            inject(&auth, row, Endpoint::Token, phase);
            let result = app.acquire_token_silent(&["User.Read"], None).map(|_| ());
            // Whatever the fault, the refresh token is still there and works.
            heal(&auth, row);
            app.acquire_token_silent(&["User.Read"], None)
                .unwrap_or_else(|e| panic!("{what}: the refresh token was lost: {e}"));
            result
        }
    };
    let took = started.elapsed();
    assert!(took < PHASE_LIMIT, "{what}: took {took:?}");
    match (expected, outcome) {
        (Recovers | Accepted, Ok(())) => {}
        (Fails(kind, retryable), Err(e)) => {
            assert_eq!(e.kind(), kind, "{what}: {e}");
            assert_eq!(e.is_retryable(), retryable, "{what}: {e}");
            // What a person reads: the message and its causes.
            let text = format!("{e:#}");
            for words in row.says {
                assert!(text.contains(words), "{what}: says {words:?}? {text}");
            }
        }
        (expected, outcome) => panic!("{what}: expected {expected:?}, got {outcome:?}"),
    }
}

/// The gap (server clock) between the first faulted poll and the next poll.
fn gap_after_the_fault(retry_after: impl Fn(&ManualClock) -> String) -> Duration {
    let clock = ManualClock::new();
    let auth = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .approval(Approval::AfterPolls(2))
        .start()
        .unwrap();
    let app = client(&auth, clock.clone()).build().unwrap();
    let flow = app.start_device_flow(&["User.Read"]).unwrap();
    assert_eq!(flow.interval(), Duration::from_secs(5));
    // The first poll comes one interval after the code: the date is set
    // from then.
    auth.inject(
        Endpoint::Token,
        status(503, Some(&retry_after(&clock)), "busy"),
    );
    app.wait_for_token(&flow, &CancelHandle::new()).unwrap();
    let stats = auth.stats();
    let polls = poll_times(&stats);
    assert_eq!(stats.polls()[0].answer, "fault");
    polls[1] - polls[0]
}

#[test]
fn retry_after_seconds_is_honoured_while_polling() {
    let gap = gap_after_the_fault(|_| "20".to_string());
    assert!(
        gap >= Duration::from_secs(20) && gap <= Duration::from_secs(21),
        "{gap:?}"
    );
}

#[test]
fn retry_after_http_date_is_honoured_while_polling() {
    // 45 s from the code request, i.e. 40 s after the first poll.
    let gap = gap_after_the_fault(|clock| {
        httpdate::fmt_http_date(clock.wall() + Duration::from_secs(45))
    });
    assert!(
        gap >= Duration::from_secs(39) && gap <= Duration::from_secs(41),
        "{gap:?}"
    );
}

/// A server that gives no answer for the whole life of the code: the wait
/// ends at the code's deadline (real time here), not later.
fn bounded_by_the_code_deadline(fault: Fault) {
    let auth = TestAuthority::builder()
        .approval(Approval::Manual)
        .expires_in(3)
        .interval(Some(1))
        .start()
        .unwrap();
    let app = client(&auth, SystemClock).build().unwrap();
    let flow = app.start_device_flow(&["User.Read"]).unwrap();
    auth.inject_every(Endpoint::Token, 1, fault);
    let started = Instant::now();
    let err = app.wait_for_token(&flow, &CancelHandle::new()).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Expired, "{err}");
    assert!(
        err.to_string().contains("could not be reached"),
        "names the cause: {err}"
    );
    // The deadline, plus at most one request in flight (1 s timeouts).
    assert!(
        took < Duration::from_millis(3000 + 1000 + 2000),
        "bounded by the 3 s code: {took:?}"
    );
}

#[test]
fn a_silent_server_is_bounded_by_the_code_deadline() {
    bounded_by_the_code_deadline(Fault::Stall);
}

#[test]
fn a_slowloris_server_is_bounded_by_the_code_deadline() {
    bounded_by_the_code_deadline(Fault::Trickle {
        every: Duration::from_secs(1),
    });
}

/// A redirect to the very endpoint the client was heading for is still not
/// followed: codes and tokens go only where configured.
#[test]
fn redirects_are_not_followed_even_to_the_real_endpoint() {
    let clock = ManualClock::new();
    let auth = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .approval(Approval::AfterPolls(1))
        .start()
        .unwrap();
    let app = client(&auth, clock.clone()).build().unwrap();
    let to_itself = || Fault::Redirect {
        status: 307,
        location: auth.token_endpoint(),
    };

    let flow = app.start_device_flow(&["User.Read"]).unwrap();
    auth.inject(Endpoint::Token, to_itself());
    let err = app.wait_for_token(&flow, &CancelHandle::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert_eq!(auth.stats().count(Endpoint::Token), 1, "not followed");

    app.sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
        .unwrap();
    clock.advance(Duration::from_secs(3600));
    let before = auth.stats().count(Endpoint::Token);
    auth.inject(Endpoint::Token, to_itself());
    let err = app.acquire_token_silent(&["User.Read"], None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert!(err.to_string().contains("redirect"), "{err}");
    assert_eq!(
        auth.stats().count(Endpoint::Token),
        before + 1,
        "not followed"
    );
    app.acquire_token_silent(&["User.Read"], None).unwrap();
}

/// tests/fault-matrix.md is rendered from the rows and `OTHER_TESTS`; every
/// test named there exists here, and every test here is named there.
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
         Rendered from `tests/flow/faults.rs` (`DEVICECODE_BLESS=1 cargo test --test flow faults`);\n\
         the test `the_matrix_document_is_current` fails when this file is stale.\n\n\
         Each row is one test of `tests/flow/faults.rs`, named in the last column, that injects the fault\n\
         with the test authority over loopback HTTPS (1 s I/O timeouts, time otherwise on a\n\
         `ManualClock`) in each phase where it exists, and checks the error kind, whether it is\n\
         retryable and what the message says, within 8 s. After a failed step 1 a new request works;\n\
         while polling, \"retried\" means the same device code then signs in; after a failed silent\n\
         refresh the cached refresh token is still there and works.\n\n\
         | fault | step 1 (device authorization) | polling | silent refresh | test |\n\
         |---|---|---|---|---|\n",
    );
    for row in rows() {
        doc.push_str(&format!(
            "| {} | {} | {} | {} | `{}` |\n",
            row.name,
            show(row.step1),
            show(row.polling),
            show(row.refresh),
            row.test
        ));
    }
    doc.push_str("\nAlso in `tests/flow/faults.rs`:\n\n");
    for (test, what) in OTHER_TESTS {
        doc.push_str(&format!("- `{test}`: {what}.\n"));
    }

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fault-matrix.md");
    if std::env::var_os("DEVICECODE_BLESS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();

    // Every test function of this file is in the committed document, and
    // every test it names exists.
    let source = include_str!("faults.rs");
    let functions: Vec<&str> = source
        .split("#[test]\n")
        .skip(1)
        .filter_map(|rest| rest.trim_start().strip_prefix("fn "))
        .filter_map(|rest| rest.split('(').next())
        .collect();
    let named: Vec<&str> = committed
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| {
            word.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .filter(|word| word.contains('_'))
        .collect();
    let rows = rows();
    for test in &named {
        assert!(
            rows.iter().any(|r| r.test == *test) || functions.contains(test),
            "the document names `{test}`, which is not a test of tests/flow/faults.rs"
        );
    }
    for function in functions.iter().filter(|f| **f != "$test") {
        assert!(
            named.contains(function),
            "the test `{function}` is missing from the document"
        );
    }

    assert_eq!(
        committed, doc,
        "tests/fault-matrix.md is stale: rerun with DEVICECODE_BLESS=1"
    );
}
