//! Clients of one process share an HTTP agent when they are set up alike:
//! one connection pool, one root store.

use crate::common::{CLIENT_ID, Seen, builder};
use devicecode::{Authority, ManualClock, PublicClient};
use devicecode_test_authority::TestAuthority;
use std::time::Duration;

#[test]
fn two_applications_share_one_connection_while_alive() {
    let auth = TestAuthority::builder().start().unwrap();
    let clock = ManualClock::new();
    let seen = Seen::default();
    let entra = || Authority::entra_at(&auth.base_url(), "organizations").unwrap();
    let first = builder(&auth, entra(), &clock, &seen).build().unwrap();
    let other_app = |io_timeout: Duration| {
        PublicClient::builder("99999999-8888-7777-6666-555555555555")
            .authority(entra())
            .only_root_certificates_pem(auth.ca_pem())
            .clock(clock.clone())
            .display(seen.display())
            .no_proxy()
            .io_timeout(io_timeout)
            .build()
            .unwrap()
    };
    // The same settings as `builder` gives, another client id.
    let second = other_app(Duration::from_secs(30));

    first.start_device_flow(&["User.Read"]).unwrap();
    second.start_device_flow(&["User.Read"]).unwrap();
    let stats = auth.stats();
    let ids: Vec<_> = stats
        .requests
        .iter()
        .filter_map(|r| r.param("client_id"))
        .collect();
    assert_eq!(
        ids,
        [CLIENT_ID, "99999999-8888-7777-6666-555555555555"],
        "both applications asked"
    );
    assert_eq!(stats.connections, 1, "one connection for both clients");
    assert_eq!(stats.tls_handshakes, 1);

    // Other settings, another agent: behaviour per client is unchanged.
    let third = other_app(Duration::from_secs(31));
    third.start_device_flow(&["User.Read"]).unwrap();
    assert_eq!(auth.stats().connections, 2);

    // The agent goes with its last client, and its connections with it.
    drop((first, second, third));
    let again = builder(&auth, entra(), &clock, &seen).build().unwrap();
    again.start_device_flow(&["User.Read"]).unwrap();
    assert_eq!(auth.stats().connections, 3);
}
