//! The one shape of the model's opaque ids: a string newtype that sorts, hashes and serializes
//! as its text. Each id type adds how its values are made (`generate`, `derive`).

/// Longest id a client may present. Ours are UUIDs; a longer one names nothing and is refused
/// before it reaches the store.
pub const MAX_ID_LEN: usize = 64;

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a stored or presented id. Unknown ids simply find nothing.
            pub fn from_string(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use string_id;
