//! The `stripe-standin` binary: configured from the environment, says where it listens, keeps
//! its secrets out of its output, stops on SIGTERM.

mod common;

use std::process::Stdio;
use std::time::Duration;

use noillin_stripe_standin::Controls;
use stripe_core::payment_intent::CreatePaymentIntent;
use stripe_types::Currency;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

const KEY: &str = "sk_test_binary_only_key";
const SECRET: &str = "whsec_binary_only_secret";

#[tokio::test]
async fn the_binary_serves_what_the_library_serves() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stripe-standin"))
        .env("STANDIN_ADDR", "127.0.0.1:0")
        .env("STRIPE_SECRET_KEY", KEY)
        .env("STANDIN_WEBHOOK_SECRET", SECRET)
        .env("RUST_LOG", "debug")
        .env_remove("STANDIN_WEBHOOK_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("its output")).lines();
    let mut output = String::new();
    let addr = tokio::time::timeout(common::WAIT, async {
        while let Some(line) = stdout.next_line().await.expect("a line") {
            output.push_str(&line);
            output.push('\n');
            if line.contains("stripe stand-in listening") {
                let addr = line.split("addr=").nth(1).expect("an addr field");
                return addr
                    .split_whitespace()
                    .next()
                    .expect("an address")
                    .to_owned();
            }
        }
        panic!("the binary ended without listening: {output}");
    })
    .await
    .expect("the binary says where it listens");
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );

    let client = stripe::ClientBuilder::new(KEY)
        .url(format!("http://{addr}/"))
        .build()
        .expect("a client");
    let intent = CreatePaymentIntent::new(700, Currency::EUR)
        .send(&client)
        .await
        .expect("created");
    let controls = Controls::new(&format!("http://{addr}"));
    let paid = controls.pay(intent.id.as_str()).await.expect("paid");
    assert_eq!(paid["status"], "succeeded");
    let events = controls.events().await.expect("the events");
    assert_eq!(events.len(), 3);

    let pid = child.id().expect("a running child");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the binary stops on SIGTERM")
        .expect("an exit status");
    assert!(status.success(), "{status}");

    while let Some(line) = stdout.next_line().await.expect("a line") {
        output.push_str(&line);
        output.push('\n');
    }
    let mut errors = String::new();
    child
        .stderr
        .take()
        .expect("its errors")
        .read_to_string(&mut errors)
        .await
        .expect("readable");
    output.push_str(&errors);
    assert!(
        !output.contains(KEY) && !output.contains(SECRET),
        "a secret was logged: {output}"
    );
}
