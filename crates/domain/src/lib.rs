//! The Noillin domain: the model and the rules that hold whatever stores or serves it. No I/O
//! happens here; everything is a pure function of its inputs, so it is unit- and
//! property-tested directly.

mod id;

pub mod availability;
pub mod booking;
pub mod chat;
pub mod event;
pub mod gig;
pub mod ledger;
pub mod mail;
pub mod notification;
pub mod payment;
pub mod profile;
pub mod review;
pub mod user;
pub mod validation;

pub use id::MAX_ID_LEN;
pub use profile::{BrandProfile, InfluencerProfile, SocialAccount, SocialPlatform};
pub use user::{Email, Role, User, UserId, UserStatus, check_password};
pub use validation::{FieldError, ValidationErrors};
