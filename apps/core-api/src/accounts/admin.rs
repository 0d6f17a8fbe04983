//! What administrators do to users, and the audit log that records it.

use jiff::Timestamp;
use noillin_domain::{MAX_ID_LEN, Role, User, UserId, UserStatus, event::Event};
use noillin_store::{AuditEntry, Constraint, SessionsEnd, StoreError};

use super::{AccountsError, SESSIONS_END_ATTEMPTS, sessions_ended};
use crate::{AppState, outbox, paging::Page};

/// What administrators do, as the audit log names it.
#[derive(Debug, Clone, Copy)]
pub(super) enum AuditAction {
    AdminCreated,
    UserSuspended,
    UserReinstated,
}

impl AuditAction {
    fn as_str(self) -> &'static str {
        match self {
            AuditAction::AdminCreated => "admin.created",
            AuditAction::UserSuspended => "user.suspended",
            AuditAction::UserReinstated => "user.reinstated",
        }
    }
}

/// An audit entry of `action` on user `target` by `actor` (`None`: the command line).
pub(super) fn audit_entry(
    actor: Option<&UserId>,
    action: AuditAction,
    target: &UserId,
    at: Timestamp,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        id: uuid::Uuid::now_v7().to_string(),
        actor: actor.cloned(),
        action: action.as_str().to_owned(),
        target: format!("user:{target}"),
        at,
        details,
    }
}

/// Suspends or reinstates a user, with its audit entry, in one store transaction. Either way
/// every session ends at once: the token version goes up (access tokens stop working here at
/// once), refresh tokens are revoked, and the worker tells realtime (which refuses the old
/// tokens and closes open sockets).
pub async fn set_status(
    state: &AppState,
    admin: &User,
    target: &UserId,
    status: UserStatus,
    correlation_id: Option<String>,
) -> Result<User, AccountsError> {
    if target.as_str().len() > MAX_ID_LEN {
        return Err(AccountsError::NotFound);
    }
    let action = match status {
        UserStatus::Suspended => AuditAction::UserSuspended,
        UserStatus::Active => AuditAction::UserReinstated,
    };
    let mut attempt = 1;
    let user = loop {
        let user = state
            .store
            .users
            .find_by_id(target)
            .await?
            .ok_or(AccountsError::NotFound)?;
        user.check_status_change_by(&admin.id)?;
        let now = state.clock.now();
        let change = SessionsEnd {
            user_id: user.id.clone(),
            expected_token_version: user.token_version,
            at: now,
        };
        let audit = audit_entry(
            Some(&admin.id),
            action,
            &user.id,
            now,
            serde_json::json!({ "previous_status": user.status.as_str() }),
        );
        // Search drops a suspended influencer (and the gigs they are in) and brings them back
        // on reinstatement; other roles have no search document.
        let mut events = vec![sessions_ended(&user)];
        if user.role == Role::Influencer {
            events.push(Event::SearchInfluencerChanged {
                user_id: user.id.to_string(),
            });
        }
        let messages = outbox::messages(events, correlation_id.as_deref())?;
        match state
            .store
            .users
            .set_status(&change, status, &audit, &messages)
            .await
        {
            Ok(user) => break user,
            Err(StoreError::Conflict(Constraint::StaleVersion))
                if attempt < SESSIONS_END_ATTEMPTS =>
            {
                attempt += 1;
            }
            Err(StoreError::NotFound) => return Err(AccountsError::NotFound),
            Err(e) => return Err(e.into()),
        }
    };
    state.relay_waker.wake();
    tracing::info!(admin_id = %admin.id, user_id = %user.id, status = status.as_str(), "user status changed");
    Ok(user)
}

/// One page of the audit log, newest first, and the cursor of the next.
pub async fn audit_log(
    state: &AppState,
    page: Page,
) -> Result<(Vec<AuditEntry>, Option<String>), AccountsError> {
    let entries = state
        .store
        .audit_log
        .list(page.cursor.as_deref(), page.limit)
        .await?;
    let next = page.next(&entries, |entry| entry.id.clone());
    Ok((entries, next))
}
