//! core-api's command line besides serving: `core-api admin create --email EMAIL [--name NAME]`
//! creates an administrator (admins never self-register). The password comes from
//! `ADMIN_PASSWORD` or, when that is unset, the first line of standard input — never from the
//! command line, where other users of the machine could read it.
//!
//! `core-api outbox parked` lists the outbox messages parked after the broker refused them
//! `OUTBOX_MAX_ATTEMPTS` times; `core-api outbox retry ID` gives one back to the relays, with its
//! attempts counted from zero (fix the cause first, e.g. the missing binding).
//!
//! `core-api search reindex influencers|gigs` asks the worker (the search index's one writer)
//! to rebuild that index from the store beside the live one and swap it in; searches keep
//! answering from the live index meanwhile.

use std::io::BufRead;

use anyhow::Context;

use noillin_store::ParkedOutboxMessage;

use crate::{Config, accounts, clock};

/// Most parked messages `core-api outbox parked` prints.
const PARKED_LISTED: u32 = 1000;

const USAGE: &str = "usage: core-api [admin create --email EMAIL [--name NAME] | outbox parked \
| outbox retry ID | search reindex influencers|gigs]";

/// What the command line asked for.
pub enum Command {
    Serve,
    CreateAdmin { email: String, name: String },
    ListParkedOutbox,
    RetryParkedOutbox { id: String },
    Reindex { index: String },
}

/// Parses `args` (without the program name).
pub fn parse(args: &[String]) -> Result<Command, String> {
    match args {
        [] => Ok(Command::Serve),
        [admin, create, rest @ ..] if admin == "admin" && create == "create" => {
            let mut email = None;
            let mut name = "Administrator".to_owned();
            let mut it = rest.iter();
            while let Some(flag) = it.next() {
                let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
                match flag.as_str() {
                    "--email" => email = Some(value.clone()),
                    "--name" => name = value.clone(),
                    other => return Err(format!("unknown option {other}")),
                }
            }
            let email = email.ok_or("--email is required")?;
            Ok(Command::CreateAdmin { email, name })
        }
        [outbox, parked] if outbox == "outbox" && parked == "parked" => {
            Ok(Command::ListParkedOutbox)
        }
        [outbox, retry, id] if outbox == "outbox" && retry == "retry" => {
            Ok(Command::RetryParkedOutbox { id: id.clone() })
        }
        [search, reindex, index]
            if search == "search"
                && reindex == "reindex"
                && ["influencers", "gigs"].contains(&index.as_str()) =>
        {
            Ok(Command::Reindex {
                index: index.clone(),
            })
        }
        _ => Err(USAGE.to_owned()),
    }
}

/// Creates an administrator and prints its id.
pub async fn create_admin(config: &Config, email: &str, name: &str) -> anyhow::Result<()> {
    let password = match std::env::var("ADMIN_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let store = noillin_store::open(&config.store)
        .await
        .context("opening the store")?;
    let now = clock::system().now();
    match accounts::create_admin(&store, email, password.into(), name, now).await {
        Ok(user) => {
            println!("created administrator {} ({})", user.email, user.id);
            Ok(())
        }
        Err(e) => anyhow::bail!("cannot create the administrator: {e}"),
    }
}

/// Prints the parked outbox messages, longest parked first.
pub async fn list_parked_outbox(config: &Config) -> anyhow::Result<()> {
    let store = noillin_store::open(&config.store)
        .await
        .context("opening the store")?;
    let parked = store
        .outbox
        .parked(PARKED_LISTED)
        .await
        .context("listing parked outbox messages")?;
    print!("{}", parked_table(&parked));
    if parked.len() == PARKED_LISTED as usize {
        println!("(the first {PARKED_LISTED} shown; retry some to see the others)");
    }
    Ok(())
}

/// Un-parks one outbox message; an id that is not parked is an error (non-zero exit).
pub async fn retry_parked_outbox(config: &Config, id: &str) -> anyhow::Result<()> {
    let store = noillin_store::open(&config.store)
        .await
        .context("opening the store")?;
    if store
        .outbox
        .retry_parked(id)
        .await
        .context("retrying a parked outbox message")?
    {
        println!("outbox message {id} is back in line");
        Ok(())
    } else {
        anyhow::bail!("no parked outbox message has the id {id}")
    }
}

/// Puts a reindex request in the outbox for the worker; the relay of any running core-api
/// publishes it.
pub async fn request_reindex(config: &Config, index: &str) -> anyhow::Result<()> {
    let store = noillin_store::open(&config.store)
        .await
        .context("opening the store")?;
    let request = crate::outbox::messages(
        vec![noillin_domain::event::Event::SearchReindexRequested {
            index: index.to_owned(),
        }],
        None,
    )?;
    store
        .outbox
        .append(&request)
        .await
        .context("writing the reindex request")?;
    println!("reindex of {index} requested; the worker logs when it is swapped in");
    Ok(())
}

/// One line per message, tab-separated under a header; control characters in the reason (it
/// comes from the broker) become spaces, so each message stays on its line.
fn parked_table(parked: &[ParkedOutboxMessage]) -> String {
    let mut table = String::from("id\trouting_key\tattempts\tparked_at\treason\n");
    for message in parked {
        let reason: String = message
            .reason
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        table.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            message.id, message.routing_key, message.attempts, message.parked_at, reason
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_outbox_commands_are_parsed_and_anything_else_is_usage() {
        assert!(matches!(
            parse(&args("outbox parked")),
            Ok(Command::ListParkedOutbox)
        ));
        assert!(matches!(
            parse(&args("outbox retry 0190a5b2-0000-7000-8000-000000000001")),
            Ok(Command::RetryParkedOutbox { id }) if id == "0190a5b2-0000-7000-8000-000000000001"
        ));
        for wrong in [
            "outbox",
            "outbox retry",
            "outbox parked now",
            "outbox retry a b",
        ] {
            let usage = parse(&args(wrong)).err().unwrap_or_default();
            assert!(usage.contains("outbox retry ID"), "{wrong}: {usage}");
        }
    }

    #[test]
    fn parked_messages_are_listed_one_line_each_with_their_reason() {
        let parked = [ParkedOutboxMessage {
            id: "m1".into(),
            routing_key: "nobody.listens".into(),
            attempts: 10,
            reason: "no queue is bound\nfor routing key nobody.listens".into(),
            parked_at: jiff::Timestamp::from_second(1_780_000_000).unwrap(),
        }];
        assert_eq!(
            parked_table(&parked),
            "id\trouting_key\tattempts\tparked_at\treason\n\
             m1\tnobody.listens\t10\t2026-05-28T20:26:40Z\tno queue is bound for routing key nobody.listens\n"
        );
    }
}
