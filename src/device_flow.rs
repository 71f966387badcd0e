//! The device authorization grant itself (RFC 8628): asking for a code
//! (step 1) and polling the token endpoint until the person decides (step 2).
//!
//! Every decision about a poll answer is made in [`decide`]; every decision
//! about when to poll next is made in [`wait`].

use crate::authority::check_endpoint_url;
use crate::cancel::CancelHandle;
use crate::clock::Clock;
use crate::display::CodeDisplay;
use crate::dpop::{self, Dpop};
use crate::error::{Error, ErrorKind};
use crate::http::{Http, Reply, retry_after_delay};
use crate::json::Object;
use crate::oauth::{self, Answer};
use crate::request::Requests;
use crate::sanitize::printable;
use crate::secret::DeviceCode;
use crate::token::Token;
use log::{debug, info, warn};
use std::time::{Duration, Instant};

/// RFC 8628 section 3.2: the interval when the server sends none.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 8628 section 3.5: what `slow_down` adds, for this and every later poll.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Used when a server forgets `expires_in` (Entra and most servers use 900).
const DEFAULT_EXPIRES_IN: u64 = 900;
/// Longer codes than this are treated as a server error, to keep time sane.
const MAX_EXPIRES_IN: u64 = 24 * 3600;
/// An interval beyond this would outlive any code; it is capped here.
const MAX_INTERVAL: u64 = 3600;
/// The longest gap between retries after transport failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long before the code's deadline the last-chance poll goes out: time
/// for the request to arrive while the code still works.
const LAST_CHANCE: Duration = Duration::from_secs(1);
/// Beyond the planned gap between two polls, how much longer the flow's
/// connection may have been idle and still be reused (a late wake-up).
const IDLE_SLACK: Duration = Duration::from_secs(10);

/// A device code, issued and waiting for a person to enter it.
///
/// Returned by [`PublicClient::start_device_flow`](crate::PublicClient::start_device_flow);
/// show it with a [`CodeDisplay`](crate::CodeDisplay), then hand it to
/// [`wait_for_token`](crate::PublicClient::wait_for_token). All texts are
/// stripped of control characters.
#[derive(Debug, Clone)]
pub struct DeviceFlow {
    pub(crate) device_code: DeviceCode,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    message: String,
    server_message: bool,
    expires_in: Duration,
    pub(crate) interval: Duration,
    /// Monotonic time the code's lifetime is counted from (when we asked).
    pub(crate) requested_at: Instant,
    /// Monotonic time the answer arrived: the first poll waits from here.
    pub(crate) received_at: Instant,
    pub(crate) scopes: Vec<String>,
    pub(crate) token_endpoint: String,
    /// The `claims` parameter the code was asked with; every poll sends it.
    pub(crate) claims: Option<String>,
}

impl DeviceFlow {
    /// The short code the person types (e.g. `ABCD-EFGH`).
    pub fn user_code(&self) -> &str {
        &self.user_code
    }
    /// The page where the code is entered: always `https` (or `http` on a
    /// loopback host); an answer with any other address is refused with
    /// [`InvalidResponse`](crate::ErrorKind::InvalidResponse).
    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }
    /// A page address with the code in it, when the server gives one: the
    /// thing to put in a QR code. `None` also when the server's address is not
    /// `https` (or `http` on a loopback host): it is then not to be shown as a
    /// link, and the person uses [`verification_uri`](Self::verification_uri).
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.verification_uri_complete.as_deref()
    }
    /// A sentence for the person: the server's (Entra sends one, localised)
    /// or one composed from the address and the code.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// Whether [`message`](Self::message) came from the server.
    pub fn message_from_server(&self) -> bool {
        self.server_message
    }
    /// How long the code is valid, from when it was requested.
    pub fn expires_in(&self) -> Duration {
        self.expires_in
    }
    /// The polling interval the server asked for.
    pub fn interval(&self) -> Duration {
        self.interval
    }
    /// The scopes requested (for Entra including `openid profile offline_access`).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
    /// The monotonic instant the code stops working.
    pub fn expires_at(&self) -> Instant {
        self.requested_at
            .checked_add(self.expires_in)
            .unwrap_or(self.requested_at)
    }
}

/// Step 1: asks for a device code.
pub(crate) fn request_code(
    ctx: &WaitContext<'_>,
    device_endpoint: &str,
    token_endpoint: &str,
    scopes: Vec<String>,
    claims: Option<String>,
) -> Result<DeviceFlow, Error> {
    let scope = scopes.join(" ");
    let requested_at = ctx.clock.now();
    let form = ctx.requests.device_code(&scope, claims.as_deref());
    let reply = ctx.http.post_form(device_endpoint, &form)?;
    let received_at = ctx.clock.now();
    // No proof goes to this endpoint, but a nonce from the server is kept
    // for the polls: any answer may carry the newest.
    if let Some(dpop) = ctx.dpop {
        dpop.remember_nonce(device_endpoint, reply.dpop_nonce.as_deref());
    }
    let answer = oauth::success(
        &reply,
        "device authorization answer",
        "the device code request",
    )?;
    let mut flow = parse_device_answer(&answer, scopes, token_endpoint, requested_at, received_at)?;
    flow.claims = claims;
    Ok(flow)
}

pub(crate) fn parse_device_answer(
    answer: &Object,
    scopes: Vec<String>,
    token_endpoint: &str,
    requested_at: Instant,
    received_at: Instant,
) -> Result<DeviceFlow, Error> {
    let device_code = DeviceCode::new(answer.required_str("device_code")?);
    let user_code = printable(answer.required_str("user_code")?);
    // Google says `verification_url`; RFC 8628 says `verification_uri`.
    let verification_uri = match answer.str("verification_uri")? {
        Some(uri) => uri,
        None => answer.required_str("verification_url").map_err(|_| {
            Error::invalid("the device authorization answer has no 'verification_uri' (nor 'verification_url')")
        })?,
    };
    let verification_uri = printable(verification_uri);
    if user_code.is_empty() || verification_uri.is_empty() {
        return Err(Error::invalid(
            "the device authorization answer has an empty user code or verification address",
        ));
    }
    // A person will open this address and type a code into it: only an
    // https page (or a loopback test server) is shown.
    if let Err(e) = check_endpoint_url(&verification_uri, "verification address") {
        return Err(Error::invalid(format!(
            "the server sent an unsafe verification address, which is not shown: {e}"
        )));
    }
    let verification_uri_complete = answer
        .str("verification_uri_complete")?
        .or(answer.str("verification_url_complete")?)
        .map(printable)
        .filter(|s| !s.is_empty())
        .filter(
            |uri| match check_endpoint_url(uri, "complete verification address") {
                Ok(()) => true,
                Err(e) => {
                    warn!("not showing the complete verification address: {e}");
                    false
                }
            },
        );
    let expires_in = match answer.seconds("expires_in")? {
        Some(0) => {
            return Err(Error::invalid(
                "the device authorization answer says the code expires in 0 seconds",
            ));
        }
        Some(seconds) => seconds.min(MAX_EXPIRES_IN),
        None => {
            warn!(
                "the device authorization answer has no expires_in; assuming {DEFAULT_EXPIRES_IN} s"
            );
            DEFAULT_EXPIRES_IN
        }
    };
    // A zero interval would have us hammer the server; one second is the floor.
    let interval = match answer.seconds("interval")? {
        Some(seconds) => Duration::from_secs(seconds.clamp(1, MAX_INTERVAL)),
        None => DEFAULT_INTERVAL,
    };
    let server_message = answer
        .str("message")?
        .map(printable)
        .filter(|m| !m.is_empty());
    let message = match &server_message {
        Some(message) => message.clone(),
        None => format!(
            "To sign in, open {verification_uri} on a phone or computer and enter the code {user_code}."
        ),
    };
    info!(
        "device code issued: the code is valid for {expires_in} s, polling every {} s",
        interval.as_secs()
    );
    Ok(DeviceFlow {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete,
        message,
        server_message: server_message.is_some(),
        expires_in: Duration::from_secs(expires_in),
        interval,
        requested_at,
        received_at,
        scopes,
        token_endpoint: token_endpoint.to_string(),
        claims: None,
    })
}

/// What one poll answer means for the flow.
#[derive(Debug)]
pub(crate) enum Decision {
    /// `authorization_pending`: ask again after the interval.
    Pending,
    /// `slow_down`: ask again, and add 5 s to the interval for good.
    SlowDown,
    /// The person approved.
    SignedIn(Box<Token>),
    /// The flow is over without tokens.
    Stop(Error),
    /// A transient failure: retry after a backoff, or after the server's
    /// `Retry-After` when it gave one.
    Retry(Error, Option<String>),
}

/// The one place a poll answer is judged (RFC 8628 section 3.5). The `error`
/// field decides, whatever the HTTP status: GitHub-style servers send errors
/// with HTTP 200.
pub(crate) fn decide(
    mut reply: Reply,
    scopes: &[String],
    environment: &str,
    now: std::time::SystemTime,
) -> Decision {
    let service = match oauth::read(&reply, "token answer", "the token request") {
        Answer::Success(answer) => {
            return match Token::from_answer(&answer, scopes, environment, now) {
                Ok(token) => Decision::SignedIn(Box::new(token)),
                Err(e) => Decision::Stop(e.with_status(reply.status)),
            };
        }
        // A captive portal can come and go while the person signs in.
        Answer::Transient(error) => return Decision::Retry(error, reply.retry_after.take()),
        Answer::Invalid(error) => return Decision::Stop(error),
        Answer::Refused(service) => service,
    };
    match service.error.as_str() {
        "authorization_pending" => Decision::Pending,
        "slow_down" => Decision::SlowDown,
        "access_denied" | "authorization_declined" => Decision::Stop(Error::service(
            ErrorKind::Declined,
            "the person declined the sign-in on the verification page; start a new sign-in to try again",
            service,
        )),
        "expired_token" => Decision::Stop(Error::service(
            ErrorKind::Expired,
            "the code expired before anyone signed in; start a new sign-in",
            service,
        )),
        _ => {
            let error = oauth::refusal(service, "the token request");
            if error.is_retryable() {
                Decision::Retry(error, reply.retry_after.take())
            } else {
                Decision::Stop(error)
            }
        }
    }
}

/// Everything the wait needs from the client.
pub(crate) struct WaitContext<'a> {
    pub http: &'a Http,
    pub clock: &'a dyn Clock,
    pub requests: &'a Requests,
    pub environment: &'a str,
    /// Told how long is left, for a countdown.
    pub display: &'a dyn CodeDisplay,
    /// Proofs of possession for the polls, when DPoP is on.
    pub dpop: Option<&'a Dpop>,
}

/// Step 2: polls until the person decides, the code expires, the caller's
/// `limit` runs out or `cancel` is triggered.
pub(crate) fn wait(
    ctx: &WaitContext<'_>,
    flow: &DeviceFlow,
    cancel: &CancelHandle,
    limit: Option<Duration>,
) -> Result<Token, Error> {
    let clock = ctx.clock;
    let started = clock.now();
    let code_deadline = flow.expires_at();
    let caller_deadline = limit.and_then(|l| started.checked_add(l));
    let mut interval = flow.interval;
    let mut last_chance_taken = false;
    let mut next_poll = poll_time(
        flow.received_at,
        interval,
        code_deadline,
        &mut last_chance_taken,
    );
    // The connection of the code request, then of each poll, waits this long
    // for the next poll: the pool must hand it over, not close it.
    let mut gap = next_poll.saturating_duration_since(flow.received_at);
    let mut failures: u32 = 0;
    let mut last_failure: Option<Error> = None;
    let mut polls: u32 = 0;
    let mut jitter = Jitter::seeded(clock);

    let form = ctx
        .requests
        .poll(flow.device_code.secret(), flow.claims.as_deref());

    loop {
        sleep_until(
            ctx,
            next_poll,
            code_deadline,
            caller_deadline,
            cancel,
            limit,
            last_failure.take(),
        )?;
        polls += 1;
        let idle = gap.saturating_add(IDLE_SLACK);
        let wall = || clock.wall();
        let posted =
            dpop::post_token_request(ctx.http, ctx.dpop, &flow.token_endpoint, &form, idle, &wall);
        let decision = match posted {
            Ok(reply) => decide(reply, &flow.scopes, ctx.environment, clock.wall()),
            Err(error) if error.is_retryable() => Decision::Retry(error, None),
            Err(error) => Decision::Stop(error),
        };
        let now = clock.now();
        match decision {
            Decision::Pending => {
                debug!("poll {polls}: authorization pending");
                failures = 0;
                next_poll = poll_time(now, interval, code_deadline, &mut last_chance_taken);
            }
            Decision::SlowDown => {
                interval = interval.saturating_add(SLOW_DOWN_STEP);
                debug!(
                    "poll {polls}: slow_down, interval now {} s",
                    interval.as_secs()
                );
                failures = 0;
                next_poll = poll_time(now, interval, code_deadline, &mut last_chance_taken);
            }
            Decision::SignedIn(mut token) => {
                if let Some(dpop) = ctx.dpop {
                    dpop.accept(&mut token)?;
                }
                info!("poll {polls}: signed in");
                return Ok(*token);
            }
            Decision::Stop(error) => {
                debug!("poll {polls}: stopping: {error:#}");
                return Err(error);
            }
            Decision::Retry(error, retry_after) => {
                failures = failures.saturating_add(1);
                let advised = retry_after
                    .as_deref()
                    .and_then(|v| retry_after_delay(v, clock.wall()));
                let delay =
                    backoff(interval, failures, &mut jitter).max(advised.unwrap_or(Duration::ZERO));
                warn!(
                    "poll {polls} failed ({error:#}); retrying in {} ms",
                    delay.as_millis()
                );
                last_failure = Some(error);
                next_poll = poll_time(now, delay, code_deadline, &mut last_chance_taken);
            }
        }
        gap = next_poll.saturating_duration_since(now);
    }
}

/// When to poll next: `delay` after `now`, unless that is at or past the
/// code's deadline. Then, once per flow, a last poll goes out just before
/// the deadline (MSAL polls until the server says `expired_token`): a person
/// who approves in the last interval is signed in, not told "expired". A
/// strict server may answer it `slow_down`, which costs nothing at that point.
fn poll_time(now: Instant, delay: Duration, deadline: Instant, taken: &mut bool) -> Instant {
    match now.checked_add(delay) {
        Some(at) if at < deadline => at,
        _ if *taken => deadline,
        _ => {
            *taken = true;
            match deadline.checked_sub(LAST_CHANCE) {
                Some(last) if last > now => last,
                // Already within the last second: no poll is worth sending.
                _ => deadline,
            }
        }
    }
}

/// Sleeps until `until` in waits that a cancel ends, watching the cancel
/// flag and both deadlines. `last_failure` becomes the cause of an expiry it leads to.
fn sleep_until(
    ctx: &WaitContext<'_>,
    until: Instant,
    code_deadline: Instant,
    caller_deadline: Option<Instant>,
    cancel: &CancelHandle,
    limit: Option<Duration>,
    last_failure: Option<Error>,
) -> Result<(), Error> {
    loop {
        if cancel.is_cancelled() {
            return Err(Error::new(
                ErrorKind::Cancelled,
                "the wait for sign-in was cancelled",
            ));
        }
        let now = ctx.clock.now();
        if caller_deadline.is_some_and(|d| now >= d) {
            let secs = limit.unwrap_or_default().as_secs();
            return Err(Error::new(
                ErrorKind::TimedOut,
                format!("gave up waiting for sign-in after the caller's limit of {secs} s"),
            ));
        }
        if now >= code_deadline {
            let mut error = Error::new(
                ErrorKind::Expired,
                "the code expired before anyone signed in; start a new sign-in",
            );
            if let Some(cause) = last_failure {
                error = Error::new(
                    ErrorKind::Expired,
                    "the code expired while the token endpoint could not be reached; check the network and start a new sign-in",
                )
                .with_source(cause);
            }
            return Err(error);
        }
        if now >= until {
            return Ok(());
        }
        let end = caller_deadline.map_or(code_deadline, |d| d.min(code_deadline));
        ctx.display.waiting(end.saturating_duration_since(now));
        let mut wake = until.min(end);
        if let Some(tick) = ctx.display.waiting_every().and_then(|t| now.checked_add(t)) {
            wake = wake.min(tick);
        }
        ctx.clock
            .sleep_unless_cancelled(wake.saturating_duration_since(now), cancel);
    }
}

/// Exponential backoff from the poll interval, capped, with ±20 % jitter so
/// a fleet of devices that lost the network together does not return together.
fn backoff(interval: Duration, failures: u32, jitter: &mut Jitter) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(6);
    let base = interval.saturating_mul(factor).min(MAX_BACKOFF);
    let spread = jitter.next_fraction() * 0.4 - 0.2;
    base.mul_f64(1.0 + spread).max(interval)
}

/// A tiny xorshift generator: jitter needs spread, not secrecy.
struct Jitter(u64);

impl Jitter {
    fn seeded(clock: &dyn Clock) -> Self {
        let nanos = clock
            .wall()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Jitter((nanos ^ u64::from(std::process::id()).rotate_left(32)) | 1)
    }

    fn next_fraction(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.as_bytes().to_vec(),
            content_type: Some("application/json".into()),
            retry_after: None,
            location: None,
            dpop_nonce: None,
        }
    }

    fn decide_on(status: u16, body: &str) -> Decision {
        decide(reply(status, body), &[], "h", SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn the_error_field_decides_whatever_the_status() {
        for status in [200, 400] {
            assert!(matches!(
                decide_on(status, r#"{"error":"authorization_pending"}"#),
                Decision::Pending
            ));
            assert!(matches!(
                decide_on(status, r#"{"error":"slow_down"}"#),
                Decision::SlowDown
            ));
            for (error, kind) in [
                ("access_denied", ErrorKind::Declined),
                ("authorization_declined", ErrorKind::Declined),
                ("expired_token", ErrorKind::Expired),
                ("invalid_grant", ErrorKind::Service),
                ("invalid_client", ErrorKind::Service),
            ] {
                let body = format!(r#"{{"error":"{error}"}}"#);
                match decide_on(status, &body) {
                    Decision::Stop(e) => assert_eq!(e.kind(), kind, "{error}"),
                    other => panic!("{error}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn transient_answers_are_retried() {
        assert!(matches!(decide_on(503, "oops"), Decision::Retry(..)));
        assert!(matches!(decide_on(502, "{}"), Decision::Retry(..)));
        assert!(matches!(
            decide_on(400, r#"{"error":"temporarily_unavailable"}"#),
            Decision::Retry(..)
        ));
        let mut limited = reply(429, "");
        limited.retry_after = Some("30".into());
        match decide(limited, &[], "h", SystemTime::UNIX_EPOCH) {
            Decision::Retry(e, after) => {
                assert_eq!(after.as_deref(), Some("30"));
                assert!(e.is_retryable());
            }
            other => panic!("{other:?}"),
        }
        let mut portal = reply(200, "<html>Sign in to the Wi-Fi</html>");
        portal.content_type = Some("text/html".into());
        assert!(matches!(
            decide(portal, &[], "h", SystemTime::UNIX_EPOCH),
            Decision::Retry(..)
        ));
    }

    #[test]
    fn broken_and_redirected_answers_stop() {
        for (status, body) in [
            (200, "{not json"),
            (200, "{}"),
            (200, r#"{"access_token":7}"#),
            (401, "{}"),
            (302, ""),
        ] {
            match decide_on(status, body) {
                Decision::Stop(e) => {
                    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{status} {body}")
                }
                other => panic!("{status} {body}: {other:?}"),
            }
        }
        assert!(matches!(
            decide_on(200, r#"{"access_token":"a"}"#),
            Decision::SignedIn(_)
        ));
    }

    #[test]
    fn backoff_grows_caps_and_never_undercuts_the_interval() {
        let clock = crate::ManualClock::new();
        let mut jitter = Jitter::seeded(&clock);
        let interval = Duration::from_secs(5);
        for failures in 1..20 {
            let d = backoff(interval, failures, &mut jitter);
            assert!(d >= interval, "{failures}: {d:?}");
            assert!(d <= MAX_BACKOFF.mul_f64(1.2), "{failures}: {d:?}");
        }
        assert!(backoff(interval, 4, &mut jitter) >= Duration::from_secs(32));
    }

    fn parse(json: &str) -> Result<DeviceFlow, Error> {
        let now = Instant::now();
        parse_device_answer(
            &Object::parse(json.as_bytes(), "d").unwrap(),
            vec![],
            "t",
            now,
            now,
        )
    }

    #[test]
    fn device_answers_absorb_quirks() {
        let google = parse(r#"{"device_code":"d","user_code":"U","verification_url":"https://g.example/device","expires_in":"1800","interval":"5"}"#).unwrap();
        assert_eq!(google.verification_uri(), "https://g.example/device");
        assert_eq!(google.expires_in(), Duration::from_secs(1800));
        assert!(!google.message_from_server());
        assert!(
            google.message().contains("https://g.example/device")
                && google.message().contains(" U")
        );
        let bare = parse(r#"{"device_code":"d","user_code":"U","verification_uri":"https://x","expires_in":600}"#).unwrap();
        assert_eq!(bare.interval(), DEFAULT_INTERVAL);
        let zero = parse(r#"{"device_code":"d","user_code":"U","verification_uri":"https://x","expires_in":600,"interval":0}"#).unwrap();
        assert_eq!(zero.interval(), Duration::from_secs(1));
        let hostile = parse(r#"{"device_code":"d","user_code":"U\u001b[2J","verification_uri":"https://x","expires_in":600,"message":"Go\u001b]0;pwned\u0007 now"}"#).unwrap();
        assert_eq!(hostile.user_code(), "U");
        assert_eq!(hostile.message(), "Go now");
        assert!(!hostile.message().contains('\u{1b}') && !hostile.message().contains('\u{7}'));
        for bad in [
            r#"{"user_code":"U","verification_uri":"https://x","expires_in":600}"#,
            r#"{"device_code":"d","user_code":"U","expires_in":600}"#,
            r#"{"device_code":"d","user_code":"U","verification_uri":"https://x","expires_in":0}"#,
            r#"{"device_code":"d","user_code":"U","verification_uri":"https://x","expires_in":"soon"}"#,
        ] {
            assert_eq!(
                parse(bad).unwrap_err().kind(),
                ErrorKind::InvalidResponse,
                "{bad}"
            );
        }
    }

    #[test]
    fn only_https_verification_addresses_are_shown() {
        let with = |uri: &str, complete: &str| {
            parse(&format!(
                r#"{{"device_code":"d","user_code":"U","verification_uri":"{uri}","verification_uri_complete":"{complete}","expires_in":600}}"#
            ))
        };
        for bad in [
            "http://login.example/device",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "//x",
        ] {
            let err = with(bad, "https://x/?c=U").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{bad}");
            assert!(err.to_string().contains("not shown"), "{err}");
        }
        let flow = with("http://127.0.0.1:8080/device", "http://evil.example/?c=U").unwrap();
        assert_eq!(flow.verification_uri(), "http://127.0.0.1:8080/device");
        assert_eq!(
            flow.verification_uri_complete(),
            None,
            "not shown as a link"
        );
        let flow = with(
            "https://microsoft.com/devicelogin",
            "https://microsoft.com/devicelogin?c=U",
        )
        .unwrap();
        assert!(flow.verification_uri_complete().is_some());
    }

    #[test]
    fn a_last_poll_goes_out_just_before_the_deadline_once() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let five = Duration::from_secs(5);
        let deadline = at(20);
        let mut taken = false;
        assert_eq!(poll_time(at(10), five, deadline, &mut taken), at(15));
        assert!(!taken);
        assert_eq!(poll_time(at(15), five, deadline, &mut taken), at(19));
        assert!(taken);
        // Once only: the last chance's own answer leads to the deadline.
        assert_eq!(poll_time(at(19), five, deadline, &mut taken), deadline);
        // Within the last second nothing is sent any more.
        let mut late = false;
        let almost = deadline - Duration::from_millis(500);
        assert_eq!(poll_time(almost, five, deadline, &mut late), deadline);
    }
}
