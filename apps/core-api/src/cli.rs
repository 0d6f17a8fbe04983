//! core-api's command line besides serving: `core-api admin create --email EMAIL [--name NAME]`
//! creates an administrator (admins never self-register). The password comes from
//! `ADMIN_PASSWORD` or, when that is unset, the first line of standard input — never from the
//! command line, where other users of the machine could read it.

use std::io::BufRead;

use anyhow::Context;

use crate::{Config, accounts};

/// What the command line asked for.
pub enum Command {
    Serve,
    CreateAdmin { email: String, name: String },
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
        _ => Err("usage: core-api [admin create --email EMAIL [--name NAME]]".to_owned()),
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
    match accounts::create_admin(&store, email, password.into(), name).await {
        Ok(user) => {
            println!("created administrator {} ({})", user.email, user.id);
            Ok(())
        }
        Err(e) => anyhow::bail!("cannot create the administrator: {e:?}"),
    }
}
