//! Form-encoded parameters as the SDK sends them (serde_qs): `amount=100`,
//! `metadata[booking_id]=b1`, `payment_method_types[0]=card`, spaces as `+`, reserved
//! characters percent-encoded.

use std::collections::HashMap;

use crate::errors::ApiError;

/// The decoded pairs of a request body or query, in the order sent. A key is kept as its
/// bracket path: `metadata[booking_id]` is `["metadata", "booking_id"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Params {
    pairs: Vec<(Vec<String>, String)>,
}

fn hex(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}

fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits the raw key on its literal brackets before decoding, so that an encoded bracket
/// inside a metadata key stays part of the key.
fn key_path(raw: &str) -> Vec<String> {
    let (head, mut rest) = match raw.find('[') {
        Some(at) => (&raw[..at], &raw[at..]),
        None => (raw, ""),
    };
    let mut path = vec![decode(head)];
    while let Some(inner) = rest.strip_prefix('[') {
        match inner.find(']') {
            Some(end) => {
                path.push(decode(&inner[..end]));
                rest = &inner[end + 1..];
            }
            None => {
                path.push(decode(inner));
                break;
            }
        }
    }
    path
}

impl Params {
    pub fn parse(raw: &str) -> Params {
        let pairs = raw
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key_path(key), decode(value))
            })
            .collect();
        Params { pairs }
    }

    /// The pairs sorted, to compare two requests whatever order their maps were sent in.
    pub fn canonical(&self) -> Vec<(Vec<String>, String)> {
        let mut pairs = self.pairs.clone();
        pairs.sort();
        pairs
    }

    /// A top-level scalar; the last one wins, as Stripe has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(path, _)| path.len() == 1 && path[0] == key)
            .map(|(_, value)| value.as_str())
    }

    /// A nested scalar such as `automatic_payment_methods[enabled]`.
    pub fn get_in(&self, key: &str, field: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(path, _)| path.len() == 2 && path[0] == key && path[1] == field)
            .map(|(_, value)| value.as_str())
    }

    /// A scalar at any depth, such as `capabilities[transfers][requested]`.
    pub fn get_at(&self, path: &[&str]) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(key, _)| key.iter().map(String::as_str).eq(path.iter().copied()))
            .map(|(_, value)| value.as_str())
    }

    /// A string map such as `metadata[…]`.
    pub fn map(&self, key: &str) -> HashMap<String, String> {
        self.pairs
            .iter()
            .filter(|(path, _)| path.len() == 2 && path[0] == key)
            .map(|(path, value)| (path[1].clone(), value.clone()))
            .collect()
    }

    /// A list such as `payment_method_types[0]=card` (or `[]=`), in the order sent.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(path, _)| path.len() == 2 && path[0] == key)
            .map(|(_, value)| value.clone())
            .collect()
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|value| {
                value
                    .parse::<i64>()
                    .map_err(|_| ApiError::invalid_integer(key, value))
            })
            .transpose()
    }

    /// A positive amount in the currency's smallest unit.
    pub fn amount(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.int(key)? {
            Some(amount) if amount < 1 => Err(ApiError::bad_param(
                key,
                "This value must be greater than or equal to 1.".to_owned(),
            )),
            other => Ok(other),
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        parse_bool(key, self.get(key))
    }

    pub fn string(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_owned)
    }

    pub fn required(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| ApiError::missing_param(key))
    }
}

pub(crate) fn parse_bool(key: &str, value: Option<&str>) -> Result<Option<bool>, ApiError> {
    match value {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::bad_param(
            key,
            format!("Invalid boolean: {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_serde_qs_encodes() {
        let params = Params::parse(
            "amount=1500&currency=eur&metadata[booking_id]=b%2B1&metadata[%5Bodd%5D]=a+b\
             &payment_method_types[0]=card&payment_method_types[1]=sepa_debit\
             &automatic_payment_methods[enabled]=true&description=50%25+off",
        );
        assert_eq!(params.int("amount").expect("an integer"), Some(1500));
        assert_eq!(params.get("currency"), Some("eur"));
        let metadata = params.map("metadata");
        assert_eq!(metadata.get("booking_id").map(String::as_str), Some("b+1"));
        assert_eq!(metadata.get("[odd]").map(String::as_str), Some("a b"));
        assert_eq!(params.list("payment_method_types"), ["card", "sepa_debit"]);
        assert_eq!(
            params.get_in("automatic_payment_methods", "enabled"),
            Some("true")
        );
        assert_eq!(params.get("description"), Some("50% off"));
        let nested = Params::parse("capabilities[transfers][requested]=true&capabilities[x]=1");
        assert_eq!(
            nested.get_at(&["capabilities", "transfers", "requested"]),
            Some("true")
        );
        assert_eq!(nested.get_at(&["capabilities", "transfers"]), None);
        assert!(params.int("currency").is_err());
    }

    #[test]
    fn canonical_ignores_order() {
        assert_eq!(
            Params::parse("metadata[a]=1&metadata[b]=2&amount=3").canonical(),
            Params::parse("amount=3&metadata[b]=2&metadata[a]=1").canonical()
        );
        assert_ne!(
            Params::parse("amount=3").canonical(),
            Params::parse("amount=4").canonical()
        );
    }

    #[test]
    fn tolerates_broken_escapes() {
        assert_eq!(Params::parse("a=%&b=%4").get("a"), Some("%"));
        assert_eq!(Params::parse("a=%&b=%4").get("b"), Some("%4"));
    }
}
