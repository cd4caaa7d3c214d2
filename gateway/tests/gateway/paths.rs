//! One path, matched and forwarded: the target the gateway prices is the
//! target the upstream serves. Requests are written raw, byte for byte, so no
//! client library normalises them first.

use crate::support::{raw_get, World};

/// Free, cheap, priced and sign-in routes; `catch_all` adds a free `/*`.
fn routes(catch_all: bool) -> String {
    let mut routes = r#"
[[routes]]
method = "GET"
path = "/v1/premium/report"
price = 1000000

[[routes]]
method = "GET"
path = "/v1/cheap/*"
price = 1000

[[routes]]
method = "GET"
path = "/v1/account"
sign_in = true

[[routes]]
path = "/public/*"
free = true
"#
    .to_string();
    if catch_all {
        routes.push_str("\n[[routes]]\npath = \"/*\"\nfree = true\n");
    }
    routes
}

/// Targets that could reach another route than the one matched: each is
/// refused with 400 and never reaches the upstream.
const AMBIGUOUS: &[&str] = &[
    "/public/../v1/premium/report",
    "/public/%2e%2e/v1/premium/report",
    "/public/.%2E/v1/premium/report",
    "/public/..%2Fv1/premium/report",
    "/public%2F..%2Fv1/premium/report",
    "/public/..\\v1\\premium\\report",
    "/public/..%5Cv1/premium/report",
    "/public/./v1/premium/report",
    "/v1/cheap/../premium/report",
    "/v1/cheap/%2E%2E/premium/report",
    "/public/../v1/account",
    "/public/../admin",
    "/public//v1/premium/report",
    "//v1/premium/report",
    "/v1/premium/report;jsessionid=1",
    "/v1/premium/report%3Bx",
    "/public/%zz",
    "/public/a%00b",
];

/// Targets that have one reading: (target, status, what the upstream serves).
const CANONICAL: &[(&str, u16, Option<&str>)] = &[
    ("/v1/premium/%72eport", 402, None),
    ("/v1/premium/report/", 402, None),
    ("/v1/premium/report", 402, None),
    ("/v1/cheap/x", 402, None),
    ("/v1/account", 402, None),
    ("/public/x", 200, Some("/public/x")),
    (
        "/public/a%20b?q=%2e%2e",
        200,
        Some("/public/a%20b?q=%2e%2e"),
    ),
    ("/public/%7Euser", 200, Some("/public/~user")),
    ("/public/caf%c3%a9", 200, Some("/public/caf%C3%A9")),
];

async fn check_matrix(world: &World, base: &str, catch_all: bool) {
    for target in AMBIGUOUS {
        let before = world.served_paths().len();
        let (status, body) = raw_get(base, target).await;
        assert_eq!(status, 400, "{target}: {body}");
        assert!(body.contains("invalid_target"), "{target}: {body}");
        assert_eq!(
            world.served_paths().len(),
            before,
            "{target} reached the upstream"
        );
    }
    let mut canonical: Vec<(&str, u16, Option<&str>)> = CANONICAL.to_vec();
    if catch_all {
        canonical.push(("/admin", 200, Some("/admin")));
    } else {
        canonical.push(("/admin", 404, None));
    }
    for (target, expected, forwarded) in canonical {
        let before = world.served_paths().len();
        let (status, body) = raw_get(base, target).await;
        assert_eq!(status, expected, "{target}: {body}");
        let served = world.served_paths()[before..].to_vec();
        assert_eq!(
            served,
            forwarded
                .map(str::to_string)
                .into_iter()
                .collect::<Vec<_>>(),
            "{target}: the upstream serves exactly the target that was matched"
        );
    }
}

#[tokio::test]
async fn a_target_is_matched_and_forwarded_as_one_canonical_path_or_refused() {
    let world = World::start().await;
    let plain = world
        .another_gateway(world.fresh_state_file(), None, &routes(false))
        .await;
    check_matrix(&world, &plain.url(), false).await;
    plain.shutdown().await;
}

#[tokio::test]
async fn a_free_catch_all_route_opens_no_path_to_a_priced_one() {
    let world = World::start().await;
    let open = world
        .another_gateway(world.fresh_state_file(), None, &routes(true))
        .await;
    check_matrix(&world, &open.url(), true).await;
    open.shutdown().await;
}

#[tokio::test]
async fn a_cheap_routes_payment_never_reaches_a_dearer_route() {
    let world = World::start().await;
    let gateway = world
        .another_gateway(world.fresh_state_file(), None, &routes(false))
        .await;
    // The 402 of a dot-segment path is never offered: nothing cheaper to pay.
    let (status, _) = raw_get(&gateway.url(), "/v1/cheap/../premium/report").await;
    assert_eq!(status, 400);
    let (status, body) = raw_get(&gateway.url(), "/v1/premium/%72eport").await;
    assert_eq!(status, 402);
    assert!(body.contains("\"maxAmountRequired\":\"1000000\""), "{body}");
    gateway.shutdown().await;
}
