//! The state file, where a single gateway keeps the proofs it has used: they
//! stay used across a restart, and while the disk under it is full no paid
//! answer leaves (it could not be recorded) and nothing paid is lost.

use crate::one_answer::{assert_one_answer, send_copies};
use crate::paying::with_proof;
use crate::support::tiny_disk::TinyDisk;
use crate::support::{Used, World, SHARED_PUBLIC_URL};

#[tokio::test]
async fn a_used_proof_stays_used_after_the_gateway_restarts() {
    let mut world = World::start().await;
    let used = Used::File(world.dir.path().join("restarted.state"));
    let shared_url =
        |gateway: &paytab_gateway::server::Gateway| format!("{}/v1/quotes/SOL", gateway.url());
    // The gateway before and after the restart stands behind one public URL.
    let proof = world
        .proof_for("GET", &format!("{SHARED_PUBLIC_URL}/v1/quotes/SOL"))
        .await;
    let before = world
        .another_gateway_at(used.clone(), SHARED_PUBLIC_URL)
        .await;
    let paid = with_proof(&world, shared_url(&before), &proof).await;
    assert_eq!(paid.status(), 200);
    before.shutdown().await;

    let after = world.another_gateway_at(used, SHARED_PUBLIC_URL).await;
    let replayed = with_proof(&world, shared_url(&after), &proof).await;
    assert_eq!(
        replayed.status(),
        402,
        "the used proof was kept in the gateway's file"
    );
    assert_eq!(world.served("/v1/quotes/SOL"), 1);
    after.shutdown().await;
}

#[tokio::test]
async fn on_a_full_disk_a_paid_answer_is_withheld_with_503_and_its_proof_buys_one_answer_once_there_is_room(
) {
    let Some(disk) = TinyDisk::mount(256) else {
        return;
    };
    let mut world = World::start().await;
    let gateway = world
        .another_gateway_at(Used::File(disk.path("gateway.state")), SHARED_PUBLIC_URL)
        .await;
    let url = format!("{}/v1/quotes/SOL", gateway.url());
    let public_url = format!("{SHARED_PUBLIC_URL}/v1/quotes/SOL");
    let ready_url = format!("{}/readyz", gateway.url());
    assert_eq!(status_of(&world, &ready_url).await, 200);

    // Fill the disk, then pay until the state file's last page is full too.
    disk.fill(0);
    let mut answered = 0;
    loop {
        let proof = world.proof_for("GET", &public_url).await;
        match with_proof(&world, &url, &proof).await.status().as_u16() {
            200 => answered += 1,
            503 => break,
            other => panic!("unexpected {other}"),
        }
        assert!(answered < 1_000, "the state file never ran out of room");
    }

    let proof = world.proof_for("GET", &public_url).await;
    let served_before = world.served("/v1/quotes/SOL");
    let statuses = send_copies(&url, ("paytab-proof", &proof)).await;
    assert_eq!(
        statuses.get(&200),
        None,
        "no answer left unrecorded: {statuses:?}"
    );
    let unavailable = statuses.get(&503).copied().unwrap_or(0);
    assert!(unavailable >= 1, "{statuses:?}");
    assert_eq!(
        unavailable + statuses.get(&409).copied().unwrap_or(0),
        200,
        "every copy was refused as unrecordable or in flight: {statuses:?}"
    );
    assert_eq!(
        world.served("/v1/quotes/SOL") - served_before,
        unavailable,
        "the upstream ran once per withheld answer, never for a copy in flight"
    );
    let withheld = with_proof(&world, &url, &proof).await;
    assert_eq!(withheld.status(), 503);
    let body: serde_json::Value = withheld.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("could not be recorded"),
        "{body}"
    );
    // Readiness writes at most once a second: it says so within two.
    assert!(eventually_status(&world, &ready_url, 503).await);

    disk.free();
    assert!(eventually_status(&world, &ready_url, 200).await);
    // The same proof buys its one answer once the disk has room.
    assert_one_answer(&send_copies(&url, ("paytab-proof", &proof)).await);
    let again = with_proof(&world, &url, &proof).await;
    assert_eq!(again.status(), 402, "and it is used up now");
    gateway.shutdown().await;
}

/// The status of a GET of `url`.
async fn status_of(world: &World, url: &str) -> u16 {
    world.http.get(url).send().await.unwrap().status().as_u16()
}

/// Whether a GET of `url` answers `status` within about three seconds.
async fn eventually_status(world: &World, url: &str, status: u16) -> bool {
    for _ in 0..30 {
        if status_of(world, url).await == status {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}
