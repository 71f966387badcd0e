//! The QR code and the countdown of `login`: drawn on a terminal, never
//! into a pipe; the code and the address are printed either way.

use super::{login, text};
use devicecode_test_authority::{Approval, TestAuthority};
use std::time::Duration;

fn authority() -> TestAuthority {
    TestAuthority::builder()
        .approval(Approval::After(Duration::from_secs(1)))
        .interval(Some(1))
        .start()
        .unwrap()
}

#[test]
fn into_a_pipe_only_the_text_goes_even_with_qr() {
    let auth = authority();
    let out = login(&auth, "qr-pipe", &["--qr"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let code = stdout
        .split("enter the code ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_default();
    assert!(
        !code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
        "the user code is printed: {stdout}"
    );
    assert!(
        stdout.contains(&format!("{}/devicelogin", auth.base_url())),
        "{stdout}"
    );
    for drawn in ['\u{2580}', '\u{2584}', '\u{2588}', '\r', '\x1b'] {
        assert!(!stdout.contains(drawn), "{drawn:?} in {stdout:?}");
    }
}

/// Without the `qr` feature there is nothing to draw on a terminal.
#[cfg(feature = "qr")]
mod terminal {
    use super::super::common::argv;
    use super::super::common::qr::decode_terminal;
    use super::super::{cli, login_args, text, with_env};
    use super::authority;
    use devicecode_test_authority::TestAuthority;
    use std::process::Command;

    /// What a person at a terminal would see.
    fn on_a_terminal(auth: &TestAuthority, name: &str, extra: &[&str]) -> String {
        let mut args = argv(cli());
        args.extend(login_args(auth, name));
        args.extend(extra.iter().map(|a| a.to_string()));
        // script(1) gives the command a pseudo-terminal for its stdout; every
        // argument here is a path, a URL or a word, quoted for sh anyway.
        let line: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let out = with_env(Command::new("script"))
            .args(["-qec", &line.join(" "), "/dev/null"])
            .output()
            .expect("script(1) from util-linux runs the command on a pseudo-terminal");
        let shown = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{shown}\n{}", text(&out.stderr));
        shown
    }

    #[test]
    fn on_a_terminal_the_qr_code_reads_as_the_address() {
        let auth = authority();
        let shown = on_a_terminal(&auth, "qr-tty", &[]);
        assert!(shown.contains("enter the code"), "{shown}");
        assert!(
            shown.contains("waiting for sign-in, "),
            "a countdown: {shown}"
        );
        assert!(shown.contains(" left"), "{shown}");
        assert_eq!(
            decode_terminal(&shown),
            format!("{}/devicelogin", auth.base_url())
        );
        let shown = on_a_terminal(&auth, "qr-tty-off", &["--no-qr"]);
        assert!(shown.contains("enter the code"), "{shown}");
        assert!(
            !shown.contains(['\u{2580}', '\u{2584}', '\u{2588}']),
            "{shown}"
        );
    }
}
