//! Three facilitator processes on one PostgreSQL database, the clients
//! picking one at random for each request: every receipt is accepted once
//! whichever instances its copies reach, watermarks never move back, an
//! `exact` transfer settles once, retries get the stored answer from any
//! instance, and when the instance leading a claim round is killed in the
//! middle of it, another finishes the round and the provider is paid exactly
//! what was accepted. Needs `PAYTAB_TEST_POSTGRES_URL` (as `leadership.rs`).

use std::collections::HashMap;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use paytab_facilitator::store::CLAIMS_LOCK;
use rand::seq::SliceRandom;
use serde_json::{json, Value};
use solana_signer::Signer;
use sqlx::{PgPool, Row};

use crate::leadership::postgres;
use crate::store::fresh_postgres_database;
use crate::support::binary::{free_port, spawn_facilitator};
use crate::support::{client_with_key, Payer, Terms, World, API_KEY};

const INSTANCES: usize = 3;
const PRICE: u64 = 1_000;
const PAYERS: usize = 4;
/// Rounds of the three kinds of concurrent settles per payer.
const ROUNDS: usize = 6;

/// Facilitator processes sharing one database.
struct Cluster {
    children: Vec<Option<Child>>,
    urls: Vec<String>,
    http: reqwest::Client,
}

impl Cluster {
    async fn start(world: &World, database: &str) -> Self {
        let mut children = Vec::new();
        let mut urls = Vec::new();
        for index in 0..INSTANCES {
            let port = free_port();
            // The session's name tells which instance holds a lock.
            let url = format!("{database}?application_name=paytab-{index}");
            children.push(Some(
                spawn_facilitator(world, &format!("instance-{index}"), port, &url).await,
            ));
            urls.push(format!("http://127.0.0.1:{port}"));
        }
        Self {
            children,
            urls,
            http: client_with_key(API_KEY),
        }
    }

    /// Instances still running.
    fn alive(&self) -> Vec<usize> {
        (0..INSTANCES)
            .filter(|index| self.children[*index].is_some())
            .collect()
    }

    /// `count` different running instances, in random order.
    fn pick(&self, count: usize) -> Vec<usize> {
        let mut alive = self.alive();
        alive.shuffle(&mut rand::thread_rng());
        alive.truncate(count);
        alive
    }

    async fn settle(&self, instance: usize, body: &Value) -> Value {
        self.http
            .post(format!("{}/settle", self.urls[instance]))
            .json(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Sends each body to its instance at the same moment.
    async fn settle_at_once(&self, sends: &[(usize, Value)]) -> Vec<Value> {
        futures_util::future::join_all(
            sends
                .iter()
                .map(|(instance, body)| self.settle(*instance, body)),
        )
        .await
    }

    fn kill(&mut self, instance: usize) {
        if let Some(mut child) = self.children[instance].take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for index in 0..INSTANCES {
            self.kill(index);
        }
    }
}

/// What the clients were told was accepted: payer → (cumulative, proof).
type Accepted = HashMap<usize, Vec<(u64, String)>>;

fn proof_of(answer: &Value) -> String {
    answer["extensions"]["paytab"]["proof"]
        .as_str()
        .unwrap_or_else(|| panic!("no proof: {answer}"))
        .to_string()
}

/// Settles one payer's receipts in rounds of three kinds, each sent to
/// several instances at once, and checks each round's answers.
async fn settle_rounds(
    cluster: &Cluster,
    world: &World,
    requirement: &Value,
    payer: &mut Payer,
) -> Vec<(u64, String)> {
    let mut accepted = Vec::new();
    for _ in 0..ROUNDS {
        // The same receipt to every instance at once: one accepts it, the
        // others answer it as a duplicate carrying that acceptance's proof.
        let body = world.body(requirement, payer.next_receipt(PRICE));
        let sends: Vec<_> = cluster
            .pick(INSTANCES)
            .into_iter()
            .map(|i| (i, body.clone()))
            .collect();
        let answers = cluster.settle_at_once(&sends).await;
        let winners: Vec<_> = answers.iter().filter(|a| a["success"] == true).collect();
        assert_eq!(winners.len(), 1, "one copy accepted: {answers:?}");
        let proof = proof_of(winners[0]);
        for answer in answers.iter().filter(|a| a["success"] != true) {
            assert_eq!(answer["errorReason"], "duplicate_settlement", "{answer}");
            assert_eq!(
                proof_of(answer),
                proof,
                "the stored answer, from any instance"
            );
        }
        accepted.push((payer.signed, proof));

        // Two devices sign the same count (different signatures) and send
        // them to two instances at once: one is accepted, the other is stale.
        let cumulative = payer.signed + PRICE;
        let one = world.body(requirement, payer.receipt(cumulative));
        let other = world.body(
            requirement,
            payer.receipt_signed_by(&payer.keypair, cumulative, crate::support::now() + 3_600),
        );
        let pair = cluster.pick(2);
        let answers = cluster
            .settle_at_once(&[(pair[0], one), (pair[1], other)])
            .await;
        let winner = answers
            .iter()
            .position(|a| a["success"] == true)
            .unwrap_or_else(|| panic!("one device accepted: {answers:?}"));
        let loser = &answers[1 - winner];
        assert_eq!(
            loser["errorReason"], "invalid_escrow_payload_stale_cumulative",
            "{loser}"
        );
        assert_eq!(
            loser["extensions"]["paytab"]["acceptedCumulative"],
            cumulative.to_string()
        );
        payer.signed = cumulative;
        accepted.push((cumulative, proof_of(&answers[winner])));

        // Two consecutive receipts to two instances at once: the first is
        // accepted; the second is accepted or, if it came first, stale and
        // accepted when sent again.
        let first = world.body(requirement, payer.next_receipt(PRICE));
        let second_count = payer.signed + PRICE;
        let second = world.body(requirement, payer.receipt(second_count));
        let pair = cluster.pick(2);
        let answers = cluster
            .settle_at_once(&[(pair[0], first), (pair[1], second.clone())])
            .await;
        assert_eq!(answers[0]["success"], true, "{answers:?}");
        accepted.push((payer.signed, proof_of(&answers[0])));
        let mut answer = answers[1].clone();
        if answer["success"] != true {
            assert_eq!(
                answer["errorReason"], "invalid_escrow_payload_stale_cumulative",
                "{answer}"
            );
            answer = cluster.settle(cluster.pick(1)[0], &second).await;
        }
        assert_eq!(answer["success"], true, "{answer}");
        payer.signed = second_count;
        accepted.push((second_count, proof_of(&answer)));
    }
    accepted
}

/// Reads every watermark until `stop`, failing on any that moved back.
async fn watch_watermarks(pool: PgPool, stop: Arc<AtomicBool>) -> usize {
    let mut seen: HashMap<String, (i64, i64)> = HashMap::new();
    let mut samples = 0;
    while !stop.load(Ordering::Relaxed) {
        let rows = sqlx::query("SELECT allowance, accepted, claimed FROM watermarks")
            .fetch_all(&pool)
            .await
            .unwrap();
        for row in rows {
            let allowance: String = row.get("allowance");
            let now: (i64, i64) = (row.get("accepted"), row.get("claimed"));
            if let Some(before) = seen.insert(allowance.clone(), now) {
                assert!(
                    now.0 >= before.0 && now.1 >= before.1,
                    "{allowance} moved back from {before:?} to {now:?}"
                );
            }
        }
        samples += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    samples
}

/// The instance whose session holds the claim lead while a claim it sent
/// is still pending, if that is the case now.
async fn leader_mid_round(pool: &PgPool) -> Option<usize> {
    let pending: i64 = sqlx::query("SELECT count(*) AS n FROM claims WHERE status = 'pending'")
        .fetch_one(pool)
        .await
        .unwrap()
        .get("n");
    if pending == 0 {
        return None;
    }
    let name: Option<String> = sqlx::query(
        "SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted \
           AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
    )
    .bind(CLAIMS_LOCK)
    .fetch_optional(pool)
    .await
    .unwrap()
    .map(|row| row.get("name"));
    name?.strip_prefix("paytab-")?.parse().ok()
}

#[tokio::test]
async fn three_facilitators_on_one_postgres_accept_each_receipt_once_and_pay_it_once_when_the_claim_leader_dies_mid_round(
) {
    let Some(base) = postgres() else { return };
    let database = fresh_postgres_database(&base).await;
    let mut world = World::start_with(|settings| {
        settings.claimer = None;
        settings.database = database.clone();
    })
    .await;
    // The in-process facilitator only set up the database; processes run now.
    if let Some(facilitator) = world.facilitator.take() {
        facilitator.shutdown().await;
    }
    let provider = world.provider().await.pubkey();
    let mut payers = Vec::new();
    for _ in 0..PAYERS {
        payers.push(world.payer(&provider, Terms::default()).await);
    }
    let requirement = world.escrow_requirement(&provider, PRICE);
    let mut cluster = Cluster::start(&world, &database).await;
    let pool = PgPool::connect(&database).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_watermarks(pool.clone(), stop.clone()));

    // Every payer at once, each round's copies spread over the instances.
    let mut accepted: Accepted = HashMap::new();
    let results = futures_util::future::join_all(
        payers
            .iter_mut()
            .map(|payer| settle_rounds(&cluster, &world, &requirement, payer)),
    )
    .await;
    for (index, settled) in results.into_iter().enumerate() {
        accepted.insert(index, settled);
    }

    // An exact transfer sent to every instance at once settles once.
    let parties = crate::exact::parties(&world).await;
    let exact = crate::exact::requirement(&world, &parties.provider.pubkey(), crate::exact::PRICE);
    let body = world.body(
        &exact,
        json!({"transaction": crate::exact::honest_wire(&world, &parties).await}),
    );
    let sends: Vec<_> = (0..INSTANCES).map(|i| (i, body.clone())).collect();
    let answers = cluster.settle_at_once(&sends).await;
    assert_eq!(
        answers.iter().filter(|a| a["success"] == true).count(),
        1,
        "{answers:?}"
    );
    for answer in answers.iter().filter(|a| a["success"] != true) {
        assert_eq!(answer["errorReason"], "duplicate_settlement", "{answer}");
    }
    assert_eq!(
        world.token_balance(&parties.provider.pubkey()).await,
        1 + crate::exact::PRICE
    );

    // Keep claims owed until the instance leading a round is caught with a
    // claim in flight, and kill it there.
    let mut killed = None;
    'catch: for _ in 0..20 {
        for (index, payer) in payers.iter_mut().enumerate() {
            let body = world.body(&requirement, payer.next_receipt(PRICE));
            let answer = cluster.settle(cluster.pick(1)[0], &body).await;
            assert_eq!(answer["success"], true, "{answer}");
            accepted
                .entry(index)
                .or_default()
                .push((payer.signed, proof_of(&answer)));
        }
        for _ in 0..300 {
            if let Some(leader) = leader_mid_round(&pool).await {
                cluster.kill(leader);
                killed = Some(leader);
                break 'catch;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let killed = killed.expect("a claim round was caught in flight");
    assert_eq!(cluster.alive().len(), INSTANCES - 1);

    // Each client was told of each count once, in order, with no gaps.
    let mut accepted_total = 0;
    for (index, payer) in payers.iter().enumerate() {
        let mut counts: Vec<u64> = accepted[&index].iter().map(|(count, _)| *count).collect();
        counts.sort_unstable();
        let expected: Vec<u64> = (1..=counts.len() as u64).map(|step| step * PRICE).collect();
        assert_eq!(counts, expected, "payer {index}");
        assert_eq!(payer.signed, *expected.last().unwrap());
        accepted_total += payer.signed;
    }

    // Retries reach the survivors: the stored answer, the same proof.
    for (index, payer) in payers.iter().enumerate() {
        let (count, proof) = accepted[&index].last().unwrap().clone();
        for instance in cluster.alive() {
            let answer = cluster
                .settle(instance, &world.body(&requirement, payer.receipt(count)))
                .await;
            assert_eq!(answer["errorReason"], "duplicate_settlement", "{answer}");
            assert_eq!(proof_of(&answer), proof);
        }
    }

    // The survivors finish the dead leader's round: on chain, each allowance
    // is claimed up to exactly what was accepted, and paid once.
    let mut balance = 0;
    for _ in 0..600 {
        balance = world.token_balance(&provider).await;
        if balance >= accepted_total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        balance, accepted_total,
        "paid exactly what was accepted (instance {killed} killed)"
    );
    for payer in &payers {
        assert_eq!(
            world.allowance_state(&payer.allowance).await.claimed,
            payer.signed
        );
    }
    // The record of what was paid agrees once the survivors have recorded
    // the claims in flight (the dead leader's among them).
    let mut recorded = 0;
    for _ in 0..100 {
        recorded = sqlx::query(
            "SELECT COALESCE(SUM(e.paid), 0)::BIGINT AS paid FROM claim_entries e \
             JOIN claims c ON c.signature = e.signature WHERE c.status = 'confirmed'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
        .get::<i64, _>("paid");
        if recorded as u64 >= accepted_total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        recorded as u64, accepted_total,
        "the store's record of payments"
    );
    assert_eq!(
        world.token_balance(&provider).await,
        accepted_total,
        "nothing paid twice"
    );

    stop.store(true, Ordering::Relaxed);
    assert!(watcher.await.unwrap() > 10, "watermarks were watched");
    drop(cluster);
    pool.close().await;
    world.localnet.shutdown().await;
}

#[tokio::test]
async fn two_stores_on_one_postgres_committing_the_same_steps_at_once_store_each_once_without_deadlock(
) {
    let Some(base) = postgres() else { return };
    let url = fresh_postgres_database(&base).await;
    let (one, other) = (
        paytab_facilitator::store::Store::open(&url).await.unwrap(),
        paytab_facilitator::store::Store::open(&url).await.unwrap(),
    );
    let allowances: Vec<_> = (0..100)
        .map(|_| solana_pubkey::Pubkey::new_unique())
        .collect();
    for step in 0..20u64 {
        let batch = |signer: &str| -> Vec<_> {
            allowances
                .iter()
                .map(|allowance| {
                    let mut receipt =
                        crate::store::after(*allowance, 1, step * 10, (step + 1) * 10);
                    receipt.signature = format!("{signer}-{step}");
                    receipt
                })
                .collect()
        };
        // The same allowances in opposite orders: rows are locked in one order.
        let forward = batch("one");
        let mut reversed = batch("other");
        reversed.reverse();
        let (first, second) = tokio::join!(
            one.commit_receipts(&forward),
            other.commit_receipts(&reversed)
        );
        let (first, mut second) = (first.unwrap(), second.unwrap());
        second.reverse();
        for (index, allowance) in allowances.iter().enumerate() {
            assert!(
                first[index] ^ second[index],
                "step {step} of {allowance} stored once"
            );
        }
    }
    for allowance in &allowances {
        assert_eq!(
            one.watermark(allowance).await.unwrap().unwrap().accepted,
            200
        );
    }
    one.close().await;
    other.close().await;
}
