//! Idempotency keys as Stripe keeps them: per API key, the first response of a POST is stored
//! with its path and parameters; the same key again answers that response (no second effect),
//! and the same key with another path or other parameters is an `idempotency_error`.

use std::collections::HashMap;

use crate::errors::ApiError;
use crate::params::Params;

/// A response as it was first sent.
#[derive(Clone, Debug)]
pub(crate) struct StoredResponse {
    pub status: u16,
    pub body: serde_json::Value,
    pub request_id: String,
}

#[derive(Debug)]
struct Entry {
    path: String,
    params: Vec<(Vec<String>, String)>,
    response: StoredResponse,
}

#[derive(Debug, Default)]
pub(crate) struct Idempotency {
    // No expiry: the stand-in lives for one test or one local run (Stripe keeps keys 24 h).
    entries: HashMap<(String, String), Entry>,
}

pub(crate) enum Lookup {
    New,
    Replay(StoredResponse),
}

impl Idempotency {
    pub fn lookup(
        &self,
        api_key: &str,
        key: &str,
        path: &str,
        params: &Params,
    ) -> Result<Lookup, ApiError> {
        let Some(entry) = self.entries.get(&(api_key.to_owned(), key.to_owned())) else {
            return Ok(Lookup::New);
        };
        if entry.path != path {
            return Err(ApiError::idempotency(format!(
                "Keys for idempotent requests can only be used for the same endpoint they were first used for \
                 ('{}' vs '{path}'). Try using a key other than '{key}' if you meant to execute a different request.",
                entry.path
            )));
        }
        if entry.params != params.canonical() {
            return Err(ApiError::idempotency(format!(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. \
                 Try using a key other than '{key}' if you meant to execute a different request."
            )));
        }
        Ok(Lookup::Replay(entry.response.clone()))
    }

    pub fn store(
        &mut self,
        api_key: &str,
        key: &str,
        path: &str,
        params: &Params,
        response: StoredResponse,
    ) {
        self.entries.insert(
            (api_key.to_owned(), key.to_owned()),
            Entry {
                path: path.to_owned(),
                params: params.canonical(),
                response,
            },
        );
    }
}
