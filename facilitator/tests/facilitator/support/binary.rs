//! The facilitator binary as a child process: started on a port and a
//! database of the test's choosing, killed with SIGKILL when the test says.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{World, API_KEY, OPERATOR_TOKEN};

/// Starts the binary named `name` on `port` and `database`, claiming every
/// second, and waits until it answers.
pub async fn spawn_facilitator(world: &World, name: &str, port: u16, database: &str) -> Child {
    let dir = world.dir.path();
    let key_path = dir.join("facilitator.json");
    std::fs::write(
        &key_path,
        serde_json::to_string(&world.facilitator_key.to_bytes().to_vec()).unwrap(),
    )
    .unwrap();
    let config = format!(
        "bind = \"127.0.0.1:{port}\"\nrpc_url = \"{}\"\ndatabase = \"{database}\"\nkeypair = \"{}\"\n\n\
         [access]\nclients = [{{ name = \"tests\", key_env = \"TEST_API_KEY\" }}]\n\
         operator_token_env = \"TEST_OPERATOR_TOKEN\"\n\n[claims]\ninterval_secs = 1\nmin_claim = 0\n",
        world.localnet.rpc_url(),
        key_path.display()
    );
    let config_path = dir.join(format!("{name}.toml"));
    std::fs::write(&config_path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_paytab-facilitator"))
        .arg("--config")
        .arg(&config_path)
        .env("RUST_LOG", "warn")
        .env("TEST_API_KEY", API_KEY)
        .env("TEST_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let health = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..200 {
        if reqwest::get(&health).await.is_ok() {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    panic!("the facilitator {name} did not start");
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
